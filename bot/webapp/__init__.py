"""The map (Telegram Mini App): its initData authentication and its JSON API under /app/."""
