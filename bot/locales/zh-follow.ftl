## /follow、/unfollow（第 15 号）：会移动的实时位置，以及它上面的一行

usage-follow =
    用法：<code>/follow &lt;用户或对讲组&gt; [时长]</code>，例如 <code>/follow zhangsan01 2h</code>（不写为 30 分钟，最长 8 小时）
usage-unfollow =
    用法：<code>/unfollow [用户或对讲组 | all]</code>
follow-line = 📡 <b>{ $name }</b> · 自 { $time } 起跟随
follow-fix = 🕒 定位 { $age }
follow-no-fix = 🕒 暂无位置
follow-stale = ⚠️ 这个位置已过时：{ $name } 在地图上没有移动。
follow-ended = ⏹ 跟随已结束。
follow-stop = ⏹ 停止
follow-already = 本聊天已在跟随 { $name }，到 { $time } 为止。
follow-group = 📡 正在跟随 <b>{ $group }</b>，到 { $time } 为止：显示 { $count } 名成员。
follow-group-rest = 未显示（最多显示 10 名）：{ $names }
follow-group-none = 📡 正在跟随 <b>{ $group }</b>，到 { $time } 为止：目前无人在线，成员上线后会显示在这里。
unfollow-done = 已停止 { $count } 个跟随。
unfollow-none = 本聊天没有跟随任何人。
unfollow-none-of = 本聊天没有跟随 { $name }。
follow-stopped = 跟随已停止。
follow-gone = 这个跟随已经结束。
follow-subs-line = 📡 跟随 { $who } 到 { $time }（/follow）
follow-subs-outside-scope = 📡 另有 { $count } 个跟随不在你的范围内（/follow）
follow-handed-over = ↪ 本聊天现在单独跟随此人：实时位置见下方。
follow-handed-over-group = ↪ 现由本聊天对 <b>{ $group }</b> 的跟随显示。
follow-group-elsewhere = 本聊天的其他跟随已在显示（每人只显示一个实时位置）：{ $names }
