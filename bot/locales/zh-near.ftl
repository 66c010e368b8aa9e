## /near：离某地最近的在线成员

usage-near = 用法：回复一个共享的位置发送 <code>/near [半径]</code>，或 <code>/near &lt;纬度&gt;,&lt;经度&gt; [半径]</code>，或 <code>/near &lt;用户&gt; [半径]</code>，默认半径 5 公里。例如：<code>/near 30.2741,120.1551 2公里</code>
near-metres = { $metres } 米
near-kilometres = { $km } 公里
near-place-shared = 共享的位置
near-place-user = { $name }（{ $account }）
near-title = { $place }周围 { $radius } 内在线的成员共 { $count } 人，由近及远：
near-none = { $place }周围 { $radius } 内没有在线的成员。
near-none-beyond = 您范围内的在线成员都没有位置信息。
near-beyond = 范围外最近的是：{ $name }（{ $account }）· { $distance } · { $age }
near-ambiguous = “{ $query }”匹配到 { $count } 个用户，请输入更完整的名字：
