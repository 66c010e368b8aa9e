"""The platform's API, one mixin of `SandboxPlatform` per section of reference/platform-api.md."""
