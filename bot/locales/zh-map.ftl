## 地图（第 16 号）：从聊天里打开

map-button = 🗺 地图
map-menu = 🗺 地图
map-follow-user = 📡 正在跟随 <b>{ $name }</b>，到 { $time } 为止。
map-help-on-menu = 🗺 <b>地图</b>：在地图上查看队员——点本聊天的菜单按钮“🗺 地图”，或 /where、/online、/follow 回复下的 🗺 按钮。
map-help-on-supervisor = 🗺 <b>地图</b>：在地图上查看队员——点 /where、/online、/follow 回复下的 🗺 按钮。
map-help-on-viewer = 🗺 <b>地图</b>：在地图上查看谁在线——点 /online 回复下的 🗺 按钮。
map-help-off = 🗺 地图未开启：需由运维人员设置 BRIDGE_PUBLIC_URL（网桥对外的 https:// 地址）。
