## pttbridge — English.
## Messages are Telegram HTML: write &lt; &gt; &amp; for < > & in text.
## String arguments are escaped by the translator (bot.i18n) unless they are
## already HTML (bot.text.Html, as esc() and t() return); numbers print without
## digit grouping. zh.ftl must have exactly the same message ids and arguments.

## Roles

role-admin = administrator
role-supervisor = supervisor
role-viewer = viewer
role-none = no access
# After an admin listed in BRIDGE_ADMIN_IDS
role-from-settings = from the settings
# A role that is not limited to an org
everywhere = all orgs

## Command menu (plain text, no HTML: Telegram shows these in the "/" menu)

cmd-start = Start
cmd-help = What I can do for you
cmd-lang = Language: 中文 or English
cmd-cancel = Cancel what is in progress
cmd-find = Find users, groups and orgs
cmd-groups = Talk groups
cmd-online = Who is online in a group
cmd-user = A user's details
cmd-org = An org's details
cmd-where = Last position of a user or group
cmd-follow = Follow a user or talk group live on the map
cmd-unfollow = Stop following someone, or everyone here
cmd-fence = Geofences: this chat is told who enters or leaves
cmd-near = The online members nearest to a place
cmd-track = A user's track, map and GPX file
cmd-recordings = A user's voice recordings
cmd-attendance = Attendance of a day
cmd-signins = Sign-ins of a day
cmd-broadcast = Send a notice to terminals and chats
cmd-subscribe = Receive platform events in this chat
cmd-unsubscribe = Stop platform events in this chat
cmd-subscriptions = Events this chat receives
cmd-watch = Post here when group members come and go
cmd-unwatch = Stop watching a group
cmd-report = Daily attendance digest in this chat
cmd-register = Create accounts
cmd-deluser = Delete accounts
cmd-mkgroup = Create a talk group
cmd-bind = Add members to a talk group
cmd-device = Assign or retire a terminal
cmd-role = Who may use this bot
cmd-invite = One-time link that grants a role
cmd-audit = Recent actions
cmd-status = Health of the bridge
cmd-mute = Hold relayed messages for a while

## Start and help

help-unknown =
    Hello! I bring the dispatch platform into Telegram.
    Your Telegram id is <code>{ $id }</code>. Give it to an administrator to get access.
help-title = <b>What you can do</b> — { $role }
help-names = Name users, groups and orgs by id, account, name, full pinyin or initials: <code>zhangsan</code>, <code>zs</code>, <code>张三</code>. Send a command alone to see how to use it.
# /help: commands by section, those taking arguments with an example (plain, put in <code>)
help-line = /{ $name } — { $what }
help-line-example = /{ $name } — { $what }, e.g. <code>{ $example }</code>
help-section-lookup = <b>🔎 Look up</b>
help-section-location = <b>📍 Location</b>
help-section-alerts = <b>🔔 Alerts &amp; notices</b>
help-section-admin = <b>🛠 Admin</b>
help-example-lang = /lang zh
help-example-find = /find zs
help-example-online = /online 1002
help-example-user = /user zhangsan01
help-example-org = /org 266
help-example-where = /where zs
help-example-follow = /follow zhangsan01 2h
help-example-unfollow = /unfollow all
help-example-fence = /fence add depot 30.2741,120.1551 300m
help-example-near = /near zhangsan01 3km
help-example-track = /track zs yesterday
help-example-recordings = /recordings zs yesterday
help-example-attendance = /attendance yesterday 266
help-example-signins = /signins today
help-example-subscribe = /subscribe incidents org 266
help-example-unsubscribe = /unsubscribe incidents
help-example-watch = /watch 1002
help-example-unwatch = /unwatch 1002
help-example-report = /report daily 08:30
help-example-mute = /mute 30m
help-example-deluser = /deluser zs001
help-example-mkgroup = /mkgroup Patrol1 266 zs
help-example-bind = /bind 1002 zs:1
help-example-device = /device 860123 idle
help-example-audit = /audit 50
help-example-role = /role 123456789 viewer
help-example-invite = /invite viewer org 266
unknown-command = I don't know { $command }. Send /help for the list.
unknown-text = Send /help to see what I can do.
location-shared = Reply to this location with <code>/near</code> (who is nearest) or <code>/fence add &lt;name&gt; &lt;radius&gt;</code> (a geofence here).
denied = This needs the { $role } role.
denied-button = This button needs a role you do not have.
denied-scope = That is outside the orgs you may see.
button-expired = This button has expired. Please send the command again.
cancelled = Cancelled.
find-ask = What should I look for? Send a name, account, pinyin or id (or /cancel).
nothing-to-cancel = Nothing to cancel.

## Language

lang-set = Language set to English.
usage-lang = Usage: <code>/lang zh</code> or <code>/lang en</code>

## Usage lines, shown when a command's arguments are missing or wrong

usage-find =
    Usage: <code>/find &lt;text&gt;</code> — id, account, name or pinyin
    Example: <code>/find zs</code>
usage-online =
    Usage: <code>/online &lt;group&gt;</code>
    Example: <code>/online patrol1</code>
usage-user =
    Usage: <code>/user &lt;user&gt;</code>
    Example: <code>/user zhangsan</code>
usage-org =
    Usage: <code>/org [org]</code> — without an org: the top of the tree
    Example: <code>/org 266</code>
usage-org-arg = After <code>org</code> give one org id, e.g. <code>org 266</code>.
usage-where =
    Usage: <code>/where &lt;user or group&gt;</code>
    Example: <code>/where zs</code>
usage-track =
    Usage: <code>/track &lt;user&gt; [from] [to]</code> — default: the last 24 h
    Times: <code>yesterday</code>, <code>today 08:00</code>, <code>2026-11-28</code>, <code>2026-11-28 08:00</code>, <code>08:00</code>, <code>-2h</code>, <code>-30m</code>
    Examples: <code>/track zs -2h</code>, <code>/track zs yesterday</code>
usage-recordings =
    Usage: <code>/recordings &lt;user&gt; [date]</code> — default: today
    Example: <code>/recordings zs yesterday</code>
usage-attendance =
    Usage: <code>/attendance [date] [org]</code> — default: today, all orgs
    Example: <code>/attendance yesterday 266</code>
usage-signins =
    Usage: <code>/signins [date] [org]</code> — default: today, all orgs
    Example: <code>/signins 11-28 266</code>
usage-subscribe =
    Usage: <code>/subscribe &lt;kind…&gt; [org &lt;id…&gt;] [user &lt;user…&gt;] [group &lt;group…&gt;] [level &lt;l…&gt;] [at &lt;HH:MM&gt;]</code>
    Kinds: incidents, org-changes, user-changes, notices, recordings (<code>all</code>: these five); presence: watch the talk groups given after <code>group</code>, as /watch does; attendance: the daily digest, as /report does (one org; the time after <code>at</code>, default 08:30)
    Recordings: of the users given after <code>user</code>, of members of the groups after <code>group</code>, or of anyone in the orgs after <code>org</code>; none of them: every recording.
    Examples: <code>/subscribe incidents org 266 level 1 2</code>, <code>/subscribe recordings user zhangsan01 group 1002</code>
usage-subscribe-presence =
    Name the talk groups to watch: <code>/subscribe presence group &lt;group…&gt;</code> (the same as <code>/watch &lt;group&gt;</code>)
    Example: <code>/subscribe presence group 1002 1003</code>
usage-unsubscribe =
    Usage: <code>/unsubscribe &lt;kind&gt;</code> or <code>/unsubscribe all</code>
    Example: <code>/unsubscribe presence</code>
usage-watch =
    Usage: <code>/watch &lt;group&gt;</code>
    Example: <code>/watch patrol1</code>
usage-unwatch =
    Usage: <code>/unwatch &lt;group&gt;</code>
    Example: <code>/unwatch patrol1</code>
usage-report =
    Usage: <code>/report daily &lt;HH:MM&gt; [org]</code> or <code>/report off</code>
    Example: <code>/report daily 08:30</code>, <code>/report daily 08:30 266</code>
usage-register =
    Usage: <code>/register</code> followed by lines <code>account,name</code>, or a CSV file with the caption /register
    Example:
    <pre>/register
    zs001,Zhang San
    ls002,Li Si</pre>
usage-deluser =
    Usage: <code>/deluser &lt;user…&gt;</code>
    Example: <code>/deluser zs001 ls002</code>
usage-mkgroup =
    Usage: <code>/mkgroup &lt;name&gt; &lt;org&gt; [user…]</code>
    Example: <code>/mkgroup Patrol1 266 zs ls</code>
usage-bind =
    Usage: <code>/bind &lt;group&gt; &lt;user&gt;[:priority[:may call Y|N[:may speak Y|N]]]…</code>
    Priority 1–10, 1 is highest.
    Example: <code>/bind patrol1 zs:1 ls:5:Y:N</code>
usage-device =
    Usage: <code>/device &lt;id&gt; assign &lt;account&gt;</code>, <code>/device &lt;id&gt; idle</code> or <code>/device &lt;id&gt; repair</code>
    Example: <code>/device 860123456789012 assign zs001</code>
usage-role =
    Usage: <code>/role &lt;telegram-id&gt; admin|supervisor|viewer|none [org &lt;id&gt;]</code>
    Example: <code>/role 123456789 supervisor org 266</code>
usage-invite =
    Usage: <code>/invite &lt;role&gt; [org &lt;id&gt;]</code>
    Example: <code>/invite viewer org 266</code>
usage-audit =
    Usage: <code>/audit [n]</code> — the last n actions, default 20
    Example: <code>/audit 50</code>
usage-mute =
    Usage: <code>/mute 30m</code>, <code>/mute 2h</code> or <code>/mute off</code>
    Held messages are summarised when the mute ends.

## Finding things

# $query: what the user typed; $kind: user, group or org
not-found =
    { $kind ->
        [user] No user matches “{ $query }”.
        [group] No group matches “{ $query }”.
        [org] No org matches “{ $query }”.
       *[other] Nothing matches “{ $query }”.
    }
ambiguous =
    “{ $query }”: { $count ->
        [one] one match
       *[other] { $count } matches
    } — pick one, or type more to narrow it down.
find-title =
    “{ $query }”: { $count ->
        [one] one match
       *[other] { $count } matches
    }
find-none = Nothing matches “{ $query }”.
and-more = …and { $count } more
directory-empty = The directory is not loaded yet. Please try again in a minute.

## Groups and /online

groups-title = <b>Talk groups</b> ({ $count }) — page { $page }/{ $pages }
groups-none = No talk groups.
members =
    { $count ->
        [one] { $count } member
       *[other] { $count } members
    }
online-counts = { $here } here · { $elsewhere } elsewhere · { $offline } offline
online-here = In this group
online-elsewhere = Online elsewhere
online-offline = Offline
updated-at = Updated at { $time }
refreshing = Refreshing…
btn-refresh = 🔄 Refresh

## Buttons shared by many views

btn-confirm = ✅ Confirm
btn-cancel = Cancel
btn-prev = ◀ Back
btn-next = More ▶

## Details of users, orgs and groups

label-id = ID
label-account = Account
label-name = Name
label-pinyin = Pinyin
label-status = Status
label-online = Online
label-priority = Priority
label-role = Role
label-org = Org
label-path = Path
label-address = Address
label-remark = Remark
label-sub-orgs = Sub-orgs
label-groups = Groups
label-members = Members
label-users = Users
label-phone = Phone
state-online = 🟢 online
state-offline = ⚪ offline
org-counts = { $users ->
        [one] one user
       *[other] { $users } users
    }, { $online } online · { $groups ->
        [one] one group
       *[other] { $groups } groups
    }

## Access: roles and invitations

roles-title = <b>Who may use this bot</b>
# $id: a Telegram user id; $org: an org's name, or "everywhere"
role-set = <code>{ $id }</code> now has the { $role } role ({ $org }).
role-removed = <code>{ $id }</code> no longer has access.
role-config-admin = <code>{ $id }</code> is an administrator in the settings (BRIDGE_ADMIN_IDS); change it there.
role-unknown-username = I have not seen { $name } yet. Use their Telegram id: they can get it from /start.
# $link: the t.me deep link; $expires: when it stops working
invite-created =
    One-time link for the { $role } role ({ $org }), valid until { $expires }:
    { $link }
invite-redeemed = Welcome! You now have the { $role } role.
invite-invalid = This invitation link is not valid.
invite-expired = This invitation link has expired. Ask an administrator for a new one.
invite-used = This invitation link has already been used. Ask an administrator for a new one.

## Platform errors

err-platform-login = The platform rejected the bridge's login. Administrators have been told.
err-platform-timeout = The platform did not answer within { $seconds } s. Please try again.
err-platform-unreachable = Cannot reach the platform right now ({ $detail }). Please try again later.
err-platform-generic = The platform refused: { $explanation } — { $message } (code { $code }).
err-internal = Something went wrong (ref <code>{ $ref }</code>).
# To administrators, once
alert-platform-login = ⚠️ The platform rejected the bridge's login: { $detail }. Check PLATFORM_TOKEN, or PLATFORM_ACCOUNT and PLATFORM_PASSWORD.

## Time expressions (bot.timeexpr)

err-time-unparseable = “{ $text }” is not a time I understand. Try <code>yesterday</code>, <code>today 08:00</code>, <code>2026-11-28</code>, <code>2026-11-28 08:00</code>, <code>08:00</code>, <code>-2h</code> or <code>-30m</code>.
err-hhmm = “{ $text }” is not a time of day: write it as HH:MM, from 00:00 to 23:59.
err-word-here = I don't understand “{ $text }” there.
err-time-order = The start must be before the end.
err-time-span =
    That is longer than { $days ->
        [one] one day
       *[other] { $days } days
    }. Please choose a shorter range.
err-date-unparseable = “{ $text }” is not a date I understand. Try <code>2026-11-28</code>, <code>11-28</code>, <code>today</code>, <code>yesterday</code> or <code>-2d</code>.

## /where

where-no-fix = { $name } ({ $account }) has no position on the platform yet.
where-time = 🕒 { $time } ({ $age })
where-stale = ⚠️ This position is more than an hour old.
where-no-time = 🕒 time of this position unknown
where-speed = 🚗 { $speed } km/h
where-heading = 🧭 heading { $word } ({ $degrees }°)
where-altitude = ⛰ altitude { $metres } m
where-source-gps = 📡 GPS fix
where-source-cell = 📶 cell-tower fix (less precise)
where-group-title = 📍 <b>{ $group }</b>: { $located } of { $count ->
        [one] { $count } member
       *[other] { $count } members
    } located (newest first)
where-group-speed = { $speed } km/h
where-group-no-fix =
    { $count ->
        [one] One member has no position:
       *[other] { $count } members have no position:
    }

## /track

track-range = 🗓 { $start } – { $end }
track-points = { $points ->
        [one] one point
       *[other] { $points } points
    } ({ $gps }% GPS) in { $segments ->
        [one] one stretch
       *[other] { $segments } stretches
    }
track-distance = 📏 { $km } km, moving { $moving }
track-speed = 🚗 max { $max } km/h, average { $avg } km/h
track-ends = First fix { $first }, last { $last }
track-none = No track points for { $name } in that time.
track-one-point = Only one point in that time: here it is.
track-gpx-caption = GPX 1.1 with { $points ->
        [one] its one point
       *[other] all { $points } points
    } (opens in any map app).

## /recordings

rec-title = 🎙 <b>{ $name }</b> <code>{ $account }</code> — { $day }, page { $page } (newest first)
rec-caption = 🎙 { $name } ({ $account }) · { $time } · { $group } · { $seconds } s
rec-waiting = No recordings of { $name } on { $day } yet. The platform may still be producing them: I will look again in about { $seconds } s.
rec-none = No recordings of { $name } on { $day }.
rec-last-page = That was the last page.
rec-fetching = Fetching the recording…
rec-gone = That recording is no longer listed. Send /recordings again.
rec-too-big = The file is larger than Telegram allows a bot to send (50 MB); open it here: { $url }
rec-dead = The recording's file is gone from the platform ({ $detail }).
rec-unreachable = Could not download the recording right now ({ $detail }). Please try again.

## Relayed incidents, changes and notices

inc-title = Incident { $code }
inc-level = level { $level }
inc-from = 👤 Filed by { $name }
inc-to = ➡️ To { $name }
inc-address = 📍 { $address }
inc-media = { $count ->
        [one] 📎 one attachment below
       *[other] 📎 { $count } attachments below
    }
inc-received = 🕒 received { $time }
inc-acked = ✅ Acknowledged by { $name } at { $time }
inc-attachment-caption = Incident { $code }
inc-attachments-failed = Some attachments could not be fetched; here are their links:
btn-ack = ✅ Acknowledge
ack-done = Acknowledged. Every copy now shows it.
ack-already = Already acknowledged by { $name } at { $time }.
ack-unknown = I no longer know this incident.
notice-from = — { $name }
chg-user-new = New user { $name } ({ $account })
chg-user-updated = User { $name } ({ $account }) changed
chg-user-deleted = User { $name } ({ $account }) was deleted
chg-user-deleted-name = User { $name } was deleted
chg-user-deleted-id = User { $id } was deleted (the bridge never knew the name)
chg-org-new = New org { $name }
chg-org-updated = Org { $name } changed
chg-org-deleted = Org { $name } was deleted
chg-in-org = in { $org }
chg-field = { $field }: { $old } → { $new }
chg-name = name
chg-account = account
chg-org = org
chg-role = role
chg-priority = priority
chg-users = users
chg-address = address
chg-groups = groups
chg-online-now = 🟢 now online
chg-offline-now = ⚪ now offline
alert-chat-gone = ⚠️ I can no longer post in { $chat } (<code>{ $id }</code>): { $reason }. Its subscriptions are paused.

## Subscriptions and mute

kind-incidents = incidents
kind-org-changes = org changes
kind-user-changes = user changes
kind-notices = notices
kind-presence = presence
kind-recordings = recordings
kind-attendance = attendance
kind-mute-summary = summaries
kind-ack-edit = acknowledgements
sub-orgs = only { $orgs } and below
sub-levels = levels { $levels }
sub-rec-users = by { $names }
sub-rec-groups = by members of { $names }
sub-rec-orgs = by anyone in { $orgs } and below
sub-or = { " " }or{ " " }
sub-within = only people of { $orgs } and below
sub-done = This chat now receives:
unsub-done = { $count ->
        [one] One subscription removed.
       *[other] { $count } subscriptions removed.
    }
subs-title = This chat receives:
subs-none = This chat receives nothing from the platform yet.
subs-hint = Change it with /subscribe or /unsubscribe (<code>/subscribe</code> alone shows how).
subs-topic = { " " }(topic { $thread })
mute-set = 🔇 Muted until { $until }. Messages are held, and summarised when the mute ends.
mute-off = 🔔 Mute ended: the held messages follow.
mute-on = 🔇 Muted until { $until }.
mute-summary-title = { $count ->
        [one] 🔔 While muted, one message was held:
       *[other] 🔔 While muted, { $count } messages were held:
    }

## /status

status-title = <b>Bridge status</b>
status-platform-ok = 🟢 Platform reachable, token accepted
status-platform-token = 🔴 Platform rejects the bridge's token: { $detail }
status-platform-down = 🔴 Platform not reachable: { $detail }
status-directory = 📒 Directory: { $users ->
        [one] { $users } user
       *[other] { $users } users
    }, { $groups ->
        [one] { $groups } talk group
       *[other] { $groups } talk groups
    }, { $orgs ->
        [one] { $orgs } org
       *[other] { $orgs } orgs
    }, loaded { $age }
status-directory-error = ⚠️ Last directory refresh failed: { $detail }
status-outbox = 📤 Outbox: { $pending } waiting, { $sent } sent, { $dead } dead letters
status-notices-dead = ⚠️ { $count ->
        [one] { $count } notice was refused by the platform
       *[other] { $count } notices were refused by the platform
    }
status-last-event = 📥 Last platform event: { $age }
status-uptime = ⏱ Up since { $age }
status-never = never

## Admin: accounts, groups, terminals, audit

reg-bad = { $count ->
        [one] One row is wrong; nothing was sent. Fix it and send the batch again:
       *[other] { $count } rows are wrong; nothing was sent. Fix them and send the batch again:
    }
reg-bad-row = line { $line }: <code>{ $text }</code> — { $reason }
reg-why-empty = account or name is empty
reg-why-columns = expected two columns: account,name
reg-why-account = the account may hold only letters, digits and _ . @ - (2–32)
reg-why-name = the name is too long or holds &lt; &gt; &amp; or quotes
reg-why-duplicate = this account appears twice in the batch
reg-too-many = At most { $max ->
        [one] { $max } account
       *[other] { $max } accounts
    } in one batch.
reg-ask-password = { $count ->
        [one] One account is ready.
       *[other] { $count } accounts are ready.
    } Now send the password they will all get. I delete your message at once. (/cancel to stop)
reg-file-too-big = That file is too big; send at most 2 MB of account,name lines.
reg-file-encoding = I can't read that file: save it as UTF-8 or GBK text (CSV or TXT).
reg-password-short = That password is too short (at least 6 characters). Send /register again.
reg-progress = ⏳ Registering… { $done }/{ $total }
reg-done = Done: { $created } created, { $exists } already existed, { $failed } failed.
reg-unknown = unknown outcome ({ $detail }); check on the platform before sending again
reg-not-returned = the platform did not return this account
admin-ambiguous = “{ $query }” fits several: { $names }. Use the id or the exact account.
deluser-confirm = { $count ->
        [one] Delete this user from the platform?
       *[other] Delete these { $count } users from the platform?
    }
deluser-done = Deleted: { $names }
nothing-pending = Nothing is waiting for confirmation.
mkgroup-done = Talk group <b>{ $name }</b> created: id <code>{ $id }</code>, in { $org }, { $members ->
        [one] one member
       *[other] { $members } members
    }.
bind-bad-spec = I can't read “{ $spec }”.
bind-line = { $name }: priority { $priority }, may call: { $call }, may speak: { $speak }
yes = yes
no = no
bind-done = Bound to <b>{ $group }</b>:
device-idle = Terminal <code>{ $id }</code> is now idle.
device-assigned = Terminal <code>{ $id }</code> is now assigned to { $account }.
device-repair = Terminal <code>{ $id }</code> is now under repair.
audit-title = { $count ->
        [one] <b>The latest action</b>
       *[other] <b>Latest { $count } actions</b>
    }
audit-none = Nothing recorded yet.
audit-csv = { $count ->
        [one] { $count } action of the last 90 days.
       *[other] { $count } actions of the last 90 days.
    }

# One line of /audit; $what is the action and its object, $details "kinds: incidents; orgs: 266"
audit-line = { $time } { $who } { $what } → { $result }
audit-line-details = { $time } { $who } { $what } ({ $details }) → { $result }
audit-detail = { $key }: { $value }
audit-detail-sep = {"; "}
audit-list-sep = {", "}
audit-all = all
audit-ok = ok
audit-state-assigned = assigned
audit-state-idle = idle
audit-state-repair = under repair
audit-action-acknowledge = acknowledged
audit-action-attendance = attendance
audit-action-bind = bound to talk group
audit-action-broadcast = notice sent
audit-action-deluser = deleted users
audit-action-device = terminal
audit-action-invite = invite link
audit-action-invite-redeem = invite link used
audit-action-mkgroup = new talk group
audit-action-mute = muted
audit-action-recording-play = recording played
audit-action-heard = transcripts searched
audit-action-register = registered accounts
audit-action-report = daily digest set
audit-action-report-off = daily digest stopped
audit-action-role = role
audit-action-signins = sign-ins
audit-action-subscribe = subscribed
audit-action-track = track
audit-action-unsubscribe = unsubscribed
audit-action-unwatch = stopped watching
audit-action-watch = watching
audit-action-where = where
audit-action-where-group = where (talk group)
audit-key-account = account
audit-key-accounts = accounts
audit-key-at = at
audit-key-begin = began
audit-key-day = day
audit-key-files = attachments
audit-key-for = for
audit-key-from = from
audit-key-group = talk group
audit-key-groups = talk groups
audit-key-kind = kind
audit-key-kinds = kinds
audit-key-levels = levels
audit-key-members = members
audit-key-name = name
audit-key-names = names
audit-key-org = org
audit-key-orgs = orgs
audit-key-role = role
audit-key-rows = rows
audit-key-state = state
audit-key-thread = topic
audit-key-title = title
audit-key-to = to
audit-key-url = link
audit-key-users = users
audit-key-words = words
audit-key-with-fix = located

## Broadcast

btn-continue = Next ▶
btn-edit = ✏️ Edit
btn-done = Done ▶
bc-targets =
    📢 <b>New notice</b> — who receives it?
    Tap orgs below (✅ = chosen) and/or send user names. Then press Next.
    Now: { $targets }
bc-nobody = nobody yet
bc-orgs = orgs { $names }
bc-users = users { $names }
bc-added = Added: { $names }
bc-need-target = Choose at least one org or user first.
bc-ask-title = Send the title (at most { $max ->
        [one] { $max } character
       *[other] { $max } characters
    }).
bc-ask-text = Send the text (at most { $max ->
        [one] { $max } character
       *[other] { $max } characters
    }).
bc-ask-files = Send photos or files, or paste links, to attach (at most { $max }). Press Done when finished.
bc-too-long = That is { $length ->
        [one] { $length } character
       *[other] { $length } characters
    }; the limit is { $max }. Please send it again, shorter.
bc-files-full = Already { $max ->
        [one] { $max } attachment
       *[other] { $max } attachments
    }: press Done.
bc-not-a-link = Send a photo, a file or an http(s) link — or press Done.
bc-file-too-big = Telegram lets a bot fetch at most 20 MB; send a link instead.
bc-file-added = 📎 { $name } attached ({ $count }).
bc-preview-head = <b>Preview</b> — terminals and chats will see:
bc-preview-reach = Reaches about { $users ->
        [one] { $users } user
       *[other] { $users } users
    } in terminals ({ $targets }) and { $chats ->
        [one] { $chats } subscribed chat
       *[other] { $chats } subscribed chats
    }.
bc-edit-targets = Recipients
bc-edit-title = Title
bc-edit-text = Text
bc-edit-files = Attachments
bc-expired = This notice is no longer being edited. Start again with /broadcast.
bc-already = Already sent.
bc-sending = Sending…
bc-sent-head = 📢 <b>Notice sent</b>
bc-platform-ok = ✅ Terminals: the platform accepted it.
bc-platform-failed = ❌ Terminals: the platform refused it ({ $detail }).
bc-platform-retrying = ⏳ Terminals: the platform cannot be reached right now. The notice is kept and sent as soon as it answers (tried for up to an hour).
bc-platform-gave-up = ❌ Terminals: the platform could not be reached for an hour; the notice was not sent to the radios.
bc-platform-unknown = ⚠️ Terminals: the platform gave no clear answer. Check on the platform whether the radios got it before sending it again.
bc-chats = { $count ->
        [one] 💬 Chats: queued to one chat.
       *[other] 💬 Chats: queued to { $count } chats.
    }

## Scheduled work: presence watch, attendance, digests, platform health (bot.jobs)

presence-title = 👀 <b>Presence</b> · { $time }
presence-here = 🟢 Online in this group ({ $count }):
presence-elsewhere = 🟡 Online in another group ({ $count }):
presence-offline = ⚪ Went offline ({ $count }):
watch-done = 👀 Watching <b>{ $group }</b> here: { $online } of { $count ->
        [one] { $count } member
       *[other] { $count } members
    } online now. I will post when members come online or go offline (checked every { $seconds } s; a change is told once it holds for two checks).
watch-already = 👀 This chat already watches <b>{ $group }</b>: { $online } of { $count ->
        [one] { $count } member
       *[other] { $count } members
    } online now.
unwatch-done = Stopped watching <b>{ $group }</b> here.
unwatch-not = This chat does not watch <b>{ $group }</b>.
watch-line = 👀 presence of { $group } (/watch)
report-line = 🕘 attendance digest every day at { $time } ({ $zone })
report-line-org = 🕘 attendance digest of { $org } every day at { $time } ({ $zone })
report-set = 🕘 Every day at { $time } ({ $zone }) this chat gets the attendance digest: yesterday in full, today so far, with a CSV of every record. First one: { $first }.
report-set-org = 🕘 Every day at { $time } ({ $zone }) this chat gets the attendance digest of { $org }: yesterday in full, today so far, with a CSV of every record. First one: { $first }.
report-first-today = today at { $time }
report-first-tomorrow = tomorrow at { $time } (today's { $time } has passed, so none is sent today; for today's attendance now, send /attendance)
report-first-date = { $day } at { $time }
report-current = This chat gets the attendance digest every day at { $time } ({ $zone }).
report-current-org = This chat gets the attendance digest of { $org } every day at { $time } ({ $zone }).
report-current-none = This chat gets no daily attendance digest.
report-off = Daily attendance digest stopped.
report-none = This chat had no daily attendance digest.
att-title = 🕘 <b>Attendance { $day }</b>
att-counts = 👥 { $people } expected · ✅ { $clockedin } clocked in · 🏁 { $clockedout } clocked out · ⏰ { $late } late · ❌ { $missing } no record
att-so-far = (so far, at { $time })
att-late-title = ⏰ <b>Late</b> ({ $count }):
att-late-line = { $name } <code>{ $account }</code> — { $time } (due { $due }, +{ $minutes } min)
att-missing-title = ❌ <b>No record</b> ({ $count }):
att-not-out-title = 🚪 <b>Clocked in, never out</b> ({ $count }):
att-none = No punch-card records on { $day }.
att-csv-caption = 📎 { $day }: { $count ->
        [one] one record
       *[other] { $count } records
    } (CSV, opens in Excel)
att-csv-columns = Date|Time|User id|Account|Name|Org|Event|Due|Grace (min)|Late (min)|Shift|Schedule|Address|Coordinate
att-event-in = clock-in
att-event-out = clock-out
att-event-superseded = superseded
att-type-scheduled = scheduled
att-type-unscheduled = unscheduled
signin-title = 📍 <b>Sign-ins { $day }</b>
signin-counts = { $count ->
        [one] One sign-in
       *[other] { $count } sign-ins
    } by { $people ->
        [one] one person
       *[other] { $people } people
    }
signin-line = { $time } { $name } — { $place }
signin-none = No sign-ins on { $day }.
signin-csv-columns = Date|Time|Record id|User id|Name|Phone|Org|Place|Longitude|Latitude|Remark|Pictures
digest-title = 🗓 <b>Daily attendance digest</b>
alert-platform-down = ⚠️ The platform is not answering the bridge: { $detail }. Presence, recordings and digests wait until it is back; I will tell you when it is. Check that PLATFORM_BASE_URL is reachable from the bridge's host and that the platform is running.
alert-platform-token = ⚠️ The platform rejects the bridge's token ({ $detail }). Nothing can be read from it until this is fixed: check PLATFORM_TOKEN, or PLATFORM_ACCOUNT and PLATFORM_PASSWORD, then restart the bridge.
alert-platform-back = ✅ The platform answers the bridge again (it was unavailable for { $duration }).

# -- hostile input: /recordings days, durations (issue 12, points 16 and 19)
rec-future = { $day } is in the future: there are no recordings of it yet.

# -- roles and scope: /role, /invite, /register, /device (issue 12, points 2, 4, 6)
role-not-yours = <code>{ $id }</code> holds a role beyond your org: only an administrator whose reach covers it can change it.
role-beyond-reach = You can grant roles only inside your org.
invite-not-yours = This invitation cannot change the role you already have. Ask an administrator.
reg-scoped = /register creates accounts in the platform's top org, outside your org: ask an administrator without an org limit.
reg-private-only = Passwords are never typed in a group: continue /register in our private chat: { $link }
reg-password-not-deleted = ⚠️ I could not delete your password message: delete it yourself and change the password.
device-not-found = No terminal matches “{ $id }”.

# -- buttons and what a chat receives: Acknowledge, button owners, chat admins, scope (issue 12, points 3, 4, 5)
ack-refused = You cannot acknowledge this incident here.
button-not-yours = This button answers whoever asked for it: send the command yourself.
chat-admin-only = Only an administrator of this group who has the { $role } role can change what it receives.
scope-wider = This chat's { $kind } reaches beyond your orgs (it was set by someone with a wider reach): only someone whose reach covers it can change it.
scope-what-watch = watch of { $group }
outside-scope = { $count ->
        [one] one more outside your scope
       *[other] { $count } more outside your scope
    }
outside-scope-watches = 👀 presence of { $count ->
        [one] one group
       *[other] { $count } groups
    } outside your scope (/watch)
outside-scope-org = an org outside your scope

# -- flood control: a user over the command limit (issue 12, point 14)
throttled = ⏳ Too many commands too fast: I will ignore yours for { $seconds } s, then answer again.

# -- long events and links: every acknowledged event is delivered (issue 12, points 8, 12, 18)
text-more = { $count ->
        [one] … (one more character)
       *[other] … ({ $count } more characters)
    }
inc-more-attachments = { $count ->
        [one] 📎 One more attachment, as a link:
       *[other] 📎 { $count } more attachments, as links:
    }

# Commands from no person (an anonymous group admin, a channel)
anonymous-sender = I cannot tell who sent this: commands sent as the group or a channel are not taken. Turn off “Remain anonymous” in your admin rights, or send it from your own account.

## Places, radii and follow durations typed in /fence, /near and /follow
err-radius-unparseable = “{ $text }” is not a radius I understand. Try <code>300m</code> or <code>1.5km</code>.
err-radius-range = The radius must be between { $min_m } m and { $max_km } km (got “{ $text }”).
err-latlon-unparseable = “{ $text }” is not a place I understand. Write latitude,longitude: <code>30.2741,120.1551</code>.
err-latlon-range = “{ $text }” is off the map: latitude within ±90, longitude within ±180 (latitude first).
err-follow-duration-unparseable = “{ $text }” is not a duration I understand. Try <code>30m</code> or <code>2h</code>.
err-follow-duration-range = A follow lasts at most { $hours } h (got “{ $text }”).

## /audit: live positions and geofences
audit-action-fence-add = geofence added
audit-action-fence-del = geofence deleted
audit-action-fence-unwatch = geofence watch stopped
audit-action-fence-watch = geofence watched
audit-action-follow = followed live
audit-action-near = nearest members asked
audit-action-unfollow = follow stopped
audit-key-button = button
audit-key-candidates = candidates
audit-key-chat = chat
audit-key-count = count
audit-key-events = events
audit-key-fence = geofence
audit-key-id = id
audit-key-lat = latitude
audit-key-lon = longitude
audit-key-minutes = minutes
audit-key-online = online
audit-key-radius-m = radius (m)
audit-key-targets = targets
audit-key-watches = watches
