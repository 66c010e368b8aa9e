## /follow, /unfollow (issue 15): a live location that moves, and the line above it

usage-follow =
    Usage: <code>/follow &lt;user or group&gt; [duration]</code> — e.g. <code>/follow zhangsan01 2h</code> (30 min if not given, at most 8 h)
usage-unfollow =
    Usage: <code>/unfollow [user or group | all]</code>
follow-line = 📡 <b>{ $name }</b> · followed since { $time }
follow-fix = 🕒 fix { $age }
follow-no-fix = 🕒 no position yet
follow-stale = ⚠️ This position is old: { $name } is not moving on the map.
follow-ended = ⏹ Follow ended.
follow-stop = ⏹ Stop
follow-already = { $name } is already followed here, until { $time }.
follow-group =
    📡 Following <b>{ $group }</b> until { $time }: { $count ->
        [one] one member shown.
       *[other] { $count } members shown.
    }
follow-group-rest = Not shown (at most 10 are): { $names }
follow-group-none = 📡 Following <b>{ $group }</b> until { $time }: nobody is online yet; members appear here as they come online.
unfollow-done = { $count ->
    [one] Stopped one follow.
   *[other] Stopped { $count } follows.
}
unfollow-none = Nothing is followed here.
unfollow-none-of = { $name } is not followed here.
follow-stopped = Follow stopped.
follow-gone = This follow has already ended.
follow-subs-line = 📡 { $who } followed until { $time } (/follow)
follow-subs-outside-scope = 📡 { $count ->
        [one] one follow
       *[other] { $count } follows
    } outside your scope (/follow)
follow-handed-over = ↪ Followed on their own here now: their live location is below.
follow-handed-over-group = ↪ Shown by the follow of <b>{ $group }</b> here now.
follow-group-elsewhere = Already shown here by another follow (one live location each): { $names }
