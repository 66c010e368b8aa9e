"""Everything that faces Telegram: the session, flood control, the conflict guard,
callback data, command menus, media streaming."""
