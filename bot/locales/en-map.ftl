## The map (issue 16): how it is opened from chat

map-button = 🗺 Map
map-menu = 🗺 Map
map-follow-user = 📡 Following <b>{ $name }</b> until { $time }.
map-help-on-menu = 🗺 <b>The map</b>: the team on a map — the menu button “🗺 Map” in this chat, or the 🗺 button under /where, /online and /follow.
map-help-on-supervisor = 🗺 <b>The map</b>: the team on a map — the 🗺 button under /where, /online and /follow.
map-help-on-viewer = 🗺 <b>The map</b>: who is online, on a map — the 🗺 button under /online.
map-help-off = 🗺 The map is off until the operator sets BRIDGE_PUBLIC_URL (the bridge's public https:// address).
