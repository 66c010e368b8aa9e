"""The relay: platform callbacks in -> durable inbox -> outbox rows per chat -> delivery."""
