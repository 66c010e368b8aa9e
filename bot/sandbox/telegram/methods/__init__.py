"""The Bot API methods the emulator serves, one mixin of `TelegramEmulator` per family."""
