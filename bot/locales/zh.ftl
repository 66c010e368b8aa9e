## pttbridge — 简体中文。
## 消息是 Telegram HTML：正文里的 < > & 要写成 &lt; &gt; &amp;。
## 字符串参数由翻译器（bot.i18n）转义，已是 HTML 的（bot.text.Html，esc() 与 t()
## 的返回值）除外；数字不加千位分隔符。与 en.ftl 的消息 id 和参数必须完全一致。

## 角色

role-admin = 管理员
role-supervisor = 主管
role-viewer = 查看者
role-none = 无权限
# 跟在 BRIDGE_ADMIN_IDS 中的管理员后面
role-from-settings = 配置文件指定
# 不限组织的角色
everywhere = 全部组织

## 命令菜单（纯文本，不能用 HTML：显示在 Telegram 的“/”菜单里）

cmd-start = 开始
cmd-help = 我能做什么
cmd-lang = 语言：中文 / English
cmd-cancel = 取消当前操作
cmd-find = 查找用户、对讲组、组织
cmd-groups = 对讲组列表
cmd-online = 对讲组在线情况
cmd-user = 用户详情
cmd-org = 组织详情
cmd-where = 用户或对讲组的最新位置
cmd-follow = 在聊天中实时跟随用户或对讲组的位置
cmd-unfollow = 停止跟随某人或全部
cmd-fence = 电子围栏：有人进出时通知本会话
cmd-near = 离某地最近的在线成员
cmd-track = 用户轨迹、地图和 GPX 文件
cmd-recordings = 用户的录音
cmd-attendance = 某天的考勤
cmd-signins = 某天的签到记录
cmd-broadcast = 向终端和群聊发送通知
cmd-subscribe = 在本群接收平台事件
cmd-unsubscribe = 停止接收平台事件
cmd-subscriptions = 本群接收的事件
cmd-watch = 组员上线、下线时在本群提醒
cmd-unwatch = 停止关注对讲组
cmd-report = 在本群推送每日考勤汇总
cmd-register = 创建账号
cmd-deluser = 删除账号
cmd-mkgroup = 创建对讲组
cmd-bind = 向对讲组添加成员
cmd-device = 分配或停用终端
cmd-role = 谁可以使用本机器人
cmd-invite = 授予角色的一次性链接
cmd-audit = 操作记录
cmd-status = 桥接服务状态
cmd-mute = 暂停转发消息一段时间

## 开始与帮助

help-unknown =
    你好！我把调度平台接入 Telegram。
    你的 Telegram ID 是 <code>{ $id }</code>，请发给管理员开通权限。
help-title = <b>可用命令</b> — { $role }
help-names = 用户、对讲组、组织可以用 ID、账号、姓名、全拼或拼音首字母指定：<code>zhangsan</code>、<code>zs</code>、<code>张三</code>。只发送命令可查看用法。
# /help：分组列出命令，带参数的命令附一个例子（例子是纯文本，会放进 <code>）
help-line = /{ $name } — { $what }
help-line-example = /{ $name } — { $what }，如 <code>{ $example }</code>
help-section-lookup = <b>🔎 查询</b>
help-section-location = <b>📍 位置</b>
help-section-alerts = <b>🔔 推送</b>
help-section-admin = <b>🛠 管理</b>
help-example-lang = /lang en
help-example-find = /find zs
help-example-online = /online 1002
help-example-user = /user 张三
help-example-org = /org 266
help-example-where = /where zs
help-example-follow = /follow zhangsan01 2h
help-example-unfollow = /unfollow all
help-example-fence = /fence add 东站 30.2741,120.1551 300米
help-example-near = /near zhangsan01 3公里
help-example-track = /track zs 昨天
help-example-recordings = /recordings zs 昨天
help-example-attendance = /attendance 昨天 266
help-example-signins = /signins 今天
help-example-subscribe = /subscribe incidents org 266
help-example-unsubscribe = /unsubscribe incidents
help-example-watch = /watch 1002
help-example-unwatch = /unwatch 1002
help-example-report = /report daily 08:30
help-example-mute = /mute 30m
help-example-deluser = /deluser zs001
help-example-mkgroup = /mkgroup 巡逻一组 266 zs
help-example-bind = /bind 1002 zs:1
help-example-device = /device 860123 idle
help-example-audit = /audit 50
help-example-role = /role 123456789 viewer
help-example-invite = /invite viewer org 266
unknown-command = 没有 { $command } 这个命令，发送 /help 查看命令列表。
unknown-text = 发送 /help 查看我能做什么。
location-shared = 回复这个位置：<code>/near</code> 查看附近的人，或 <code>/fence add &lt;名称&gt; &lt;半径&gt;</code> 在这里设电子围栏。
denied = 需要{ $role }权限。
denied-button = 你没有使用这个按钮的权限。
denied-scope = 超出了你可查看的组织范围。
button-expired = 这个按钮已失效，请重新发送命令。
cancelled = 已取消。
nothing-to-cancel = 没有可取消的操作。

## 语言

lang-set = 已切换为中文。
usage-lang = 用法：<code>/lang zh</code> 或 <code>/lang en</code>

## 用法说明：命令缺少参数或参数有误时显示

find-ask = 要找什么？请发送姓名、账号、拼音或 ID（或 /cancel 取消）。
usage-find =
    用法：<code>/find &lt;关键词&gt;</code> — ID、账号、姓名或拼音
    示例：<code>/find zs</code>
usage-online =
    用法：<code>/online &lt;对讲组&gt;</code>
    示例：<code>/online 巡逻一组</code>
usage-user =
    用法：<code>/user &lt;用户&gt;</code>
    示例：<code>/user 张三</code>
usage-org =
    用法：<code>/org [组织]</code> — 不带组织时显示顶层
    示例：<code>/org 266</code>
usage-org-arg = <code>org</code> 后面请给一个组织 ID，例如 <code>org 266</code>。
usage-where =
    用法：<code>/where &lt;用户或对讲组&gt;</code>
    示例：<code>/where zs</code>
usage-track =
    用法：<code>/track &lt;用户&gt; [开始] [结束]</code> — 默认最近 24 小时
    时间：<code>昨天</code>、<code>今天 08:00</code>、<code>2026-11-28</code>、<code>2026-11-28 08:00</code>、<code>08:00</code>、<code>-2h</code>、<code>-30m</code>
    示例：<code>/track zs -2h</code>、<code>/track zs 昨天</code>
usage-recordings =
    用法：<code>/recordings &lt;用户&gt; [日期]</code> — 默认今天
    示例：<code>/recordings zs 昨天</code>
usage-attendance =
    用法：<code>/attendance [日期] [组织]</code> — 默认今天、全部组织
    示例：<code>/attendance 昨天 266</code>
usage-signins =
    用法：<code>/signins [日期] [组织]</code> — 默认今天、全部组织
    示例：<code>/signins 11-28 266</code>
usage-subscribe =
    用法：<code>/subscribe &lt;类型…&gt; [org &lt;id…&gt;] [user &lt;用户…&gt;] [group &lt;对讲组…&gt;] [level &lt;级别…&gt;] [at &lt;HH:MM&gt;]</code>
    类型：incidents（事件）、org-changes（组织变更）、user-changes（用户变更）、notices（通知）、recordings（录音）（<code>all</code> 即以上五种）；presence（上下线）：关注 <code>group</code> 后列出的对讲组，同 /watch；attendance（考勤）：每日考勤汇总，同 /report（一个组织；时间写在 <code>at</code> 后，默认 08:30）
    录音：<code>user</code> 后列出的用户、<code>group</code> 后对讲组的成员、或 <code>org</code> 后组织（含下级）中任何人的录音；都不指定则为全部录音。
    示例：<code>/subscribe incidents org 266 level 1 2</code>、<code>/subscribe recordings user zhangsan01 group 1002</code>
usage-subscribe-presence =
    请指定要关注的对讲组：<code>/subscribe presence group &lt;对讲组…&gt;</code>（与 <code>/watch &lt;对讲组&gt;</code> 相同）
    示例：<code>/subscribe presence group 1002 1003</code>
usage-unsubscribe =
    用法：<code>/unsubscribe &lt;类型&gt;</code> 或 <code>/unsubscribe all</code>
    示例：<code>/unsubscribe presence</code>
usage-watch =
    用法：<code>/watch &lt;对讲组&gt;</code>
    示例：<code>/watch 巡逻一组</code>
usage-unwatch =
    用法：<code>/unwatch &lt;对讲组&gt;</code>
    示例：<code>/unwatch 巡逻一组</code>
usage-report =
    用法：<code>/report daily &lt;HH:MM&gt; [组织]</code> 或 <code>/report off</code>
    示例：<code>/report daily 08:30</code>、<code>/report daily 08:30 266</code>
usage-register =
    用法：<code>/register</code> 后接多行 <code>账号,姓名</code>，或发送 CSV 文件并以 /register 作说明
    示例：
    <pre>/register
    zs001,张三
    ls002,李四</pre>
usage-deluser =
    用法：<code>/deluser &lt;用户…&gt;</code>
    示例：<code>/deluser zs001 ls002</code>
usage-mkgroup =
    用法：<code>/mkgroup &lt;名称&gt; &lt;组织&gt; [用户…]</code>
    示例：<code>/mkgroup 巡逻一组 266 zs ls</code>
usage-bind =
    用法：<code>/bind &lt;对讲组&gt; &lt;用户&gt;[:优先级[:可呼叫 Y|N[:可讲话 Y|N]]]…</code>
    优先级 1–10，1 最高。
    示例：<code>/bind 巡逻一组 zs:1 ls:5:Y:N</code>
usage-device =
    用法：<code>/device &lt;id&gt; assign &lt;账号&gt;</code>、<code>/device &lt;id&gt; idle</code> 或 <code>/device &lt;id&gt; repair</code>
    示例：<code>/device 860123456789012 assign zs001</code>
usage-role =
    用法：<code>/role &lt;telegram-id&gt; admin|supervisor|viewer|none [org &lt;id&gt;]</code>
    示例：<code>/role 123456789 supervisor org 266</code>
usage-invite =
    用法：<code>/invite &lt;角色&gt; [org &lt;id&gt;]</code>
    示例：<code>/invite viewer org 266</code>
usage-audit =
    用法：<code>/audit [n]</code> — 最近 n 条操作，默认 20
    示例：<code>/audit 50</code>
usage-mute =
    用法：<code>/mute 30m</code>、<code>/mute 2h</code> 或 <code>/mute off</code>
    暂停期间的消息会保留，结束时汇总发送。

## 查找

# $query：用户输入的内容；$kind：user、group 或 org
not-found =
    { $kind ->
        [user] 没有与“{ $query }”匹配的用户。
        [group] 没有与“{ $query }”匹配的对讲组。
        [org] 没有与“{ $query }”匹配的组织。
       *[other] 没有与“{ $query }”匹配的结果。
    }
ambiguous = “{ $query }”有 { $count } 个结果，请选择一个，或输入更多内容缩小范围。
find-title = “{ $query }”：{ $count } 个结果
find-none = 没有与“{ $query }”匹配的结果。
and-more = ……还有 { $count } 个
directory-empty = 通讯录尚未加载，请稍后再试。

## 对讲组与在线情况

groups-title = <b>对讲组</b>（{ $count }）— 第 { $page }/{ $pages } 页
groups-none = 没有对讲组。
members = { $count } 名成员
online-counts = 本组 { $here } · 其他组 { $elsewhere } · 离线 { $offline }
online-here = 本组在线
online-elsewhere = 在其他组在线
online-offline = 离线
updated-at = 更新于 { $time }
refreshing = 正在刷新…
btn-refresh = 🔄 刷新

## 通用按钮

btn-confirm = ✅ 确认
btn-cancel = 取消
btn-prev = ◀ 上一页
btn-next = 下一页 ▶

## 用户、组织、对讲组详情

label-id = ID
label-account = 账号
label-name = 姓名
label-pinyin = 拼音
label-status = 状态
label-online = 在线
label-priority = 优先级
label-role = 角色
label-org = 组织
label-path = 上级
label-address = 地址
label-remark = 备注
label-sub-orgs = 下级组织
label-groups = 对讲组
label-members = 成员
label-users = 用户
label-phone = 电话
state-online = 🟢 在线
state-offline = ⚪ 离线
org-counts = 用户 { $users } 人，在线 { $online } 人 · 对讲组 { $groups } 个

## 权限：角色与邀请

roles-title = <b>本机器人的使用者</b>
# $id：Telegram 用户 ID；$org：组织名称，或“全部组织”
role-set = <code>{ $id }</code> 现在是{ $role }（{ $org }）。
role-removed = <code>{ $id }</code> 已被取消访问权限。
role-config-admin = <code>{ $id }</code> 是配置文件（BRIDGE_ADMIN_IDS）指定的管理员，请在配置中修改。
role-unknown-username = 还没见过 { $name }。请使用对方的 Telegram ID，对方发送 /start 即可看到。
# $link：t.me 深度链接；$expires：失效时间
invite-created =
    { $role }角色（{ $org }）的一次性链接，有效期至 { $expires }：
    { $link }
invite-redeemed = 欢迎！你现在的角色是{ $role }。
invite-invalid = 邀请链接无效。
invite-expired = 邀请链接已过期，请向管理员索取新链接。
invite-used = 邀请链接已被使用，请向管理员索取新链接。

## 平台错误

err-platform-login = 平台拒绝了桥接服务的登录，已通知管理员。
err-platform-timeout = 平台 { $seconds } 秒内未响应，请重试。
err-platform-unreachable = 暂时无法连接平台（{ $detail }），请稍后再试。
err-platform-generic = 平台拒绝了请求：{ $explanation } — { $message }（代码 { $code }）。
err-internal = 出错了（编号 <code>{ $ref }</code>）。
# 发给管理员，只发一次
alert-platform-login = ⚠️ 平台拒绝了桥接服务的登录：{ $detail }。请检查 PLATFORM_TOKEN，或 PLATFORM_ACCOUNT 和 PLATFORM_PASSWORD。

## 时间表达式（bot.timeexpr）

err-time-unparseable = 无法识别时间“{ $text }”。可用格式：<code>昨天</code>、<code>今天 08:00</code>、<code>2026-11-28</code>、<code>2026-11-28 08:00</code>、<code>08:00</code>、<code>-2h</code>、<code>-30m</code>。
err-hhmm = “{ $text }”不是有效的时刻：请写成 HH:MM（00:00 至 23:59）。
err-word-here = 无法理解此处的“{ $text }”。
err-time-order = 开始时间必须早于结束时间。
err-time-span = 时间范围超过 { $days } 天，请缩短范围。
err-date-unparseable = 无法识别日期“{ $text }”。可用格式：<code>2026-11-28</code>、<code>11-28</code>、<code>今天</code>、<code>昨天</code>、<code>-2d</code>。

## /where

where-no-fix = 平台上还没有 { $name }（{ $account }）的位置。
where-time = 🕒 { $time }（{ $age }）
where-stale = ⚠️ 这个位置已超过一小时。
where-no-time = 🕒 定位时间未知
where-speed = 🚗 { $speed } 公里/小时
where-heading = 🧭 方向 { $word }（{ $degrees }°）
where-altitude = ⛰ 海拔 { $metres } 米
where-source-gps = 📡 GPS 定位
where-source-cell = 📶 基站定位（精度较低）
where-group-title = 📍 <b>{ $group }</b>：{ $count } 名成员中 { $located } 人有位置（最新在前）
where-group-speed = { $speed } 公里/小时
where-group-no-fix = { $count } 名成员没有位置：

## /track

track-range = 🗓 { $start } – { $end }
track-points = { $points } 个点（GPS { $gps }%），共 { $segments } 段
track-distance = 📏 { $km } 公里，移动 { $moving }
track-speed = 🚗 最高 { $max } 公里/小时，平均 { $avg } 公里/小时
track-ends = 首个定位 { $first }，最后 { $last }
track-none = 这段时间内没有 { $name } 的轨迹点。
track-one-point = 这段时间内只有一个点，位置如下。
track-gpx-caption = GPX 1.1 文件，含全部 { $points } 个点（可用任意地图应用打开）。

## /recordings

rec-title = 🎙 <b>{ $name }</b> <code>{ $account }</code> — { $day }，第 { $page } 页（最新在前）
rec-caption = 🎙 { $name }（{ $account }）· { $time } · { $group } · { $seconds } 秒
rec-waiting = { $name } 在 { $day } 还没有录音。平台可能仍在生成，约 { $seconds } 秒后我会再查一次。
rec-none = { $name } 在 { $day } 没有录音。
rec-last-page = 已经是最后一页。
rec-fetching = 正在获取录音…
rec-gone = 这条录音已不在列表中，请重新发送 /recordings。
rec-too-big = 文件超过 Telegram 机器人可发送的上限（50 MB），请在此打开：{ $url }
rec-dead = 平台上的录音文件已不存在（{ $detail }）。
rec-unreachable = 暂时无法下载录音（{ $detail }），请稍后再试。

## Relayed incidents, changes and notices

inc-title = 事件 { $code }
inc-level = 等级 { $level }
inc-from = 👤 上报人 { $name }
inc-to = ➡️ 接收 { $name }
inc-address = 📍 { $address }
inc-media = 📎 附件 { $count } 个，见下
inc-received = 🕒 收到于 { $time }
inc-acked = ✅ 已由 { $name } 于 { $time } 确认
inc-attachment-caption = 事件 { $code }
inc-attachments-failed = 部分附件无法获取，链接如下：
btn-ack = ✅ 确认
ack-done = 已确认，所有副本均已更新。
ack-already = 已由 { $name } 于 { $time } 确认。
ack-unknown = 找不到这个事件了。
notice-from = —— { $name }
chg-user-new = 新用户 { $name }（{ $account }）
chg-user-updated = 用户 { $name }（{ $account }）有变更
chg-user-deleted = 用户 { $name }（{ $account }）已删除
chg-user-deleted-name = 用户 { $name } 已删除
chg-user-deleted-id = 用户 { $id } 已删除（此前不知其姓名）
chg-org-new = 新组织 { $name }
chg-org-updated = 组织 { $name } 有变更
chg-org-deleted = 组织 { $name } 已删除
chg-in-org = 所属 { $org }
chg-field = { $field }：{ $old } → { $new }
chg-name = 姓名
chg-account = 账号
chg-org = 组织
chg-role = 角色
chg-priority = 优先级
chg-users = 用户数
chg-address = 地址
chg-groups = 对讲组
chg-online-now = 🟢 已上线
chg-offline-now = ⚪ 已离线
alert-chat-gone = ⚠️ 无法再向 { $chat }（<code>{ $id }</code>）发送消息：{ $reason }。该会话的订阅已暂停。

## Subscriptions and mute

kind-incidents = 事件上报
kind-org-changes = 组织变更
kind-user-changes = 用户变更
kind-notices = 通知
kind-presence = 在线状态
kind-recordings = 录音
kind-attendance = 考勤
kind-mute-summary = 汇总
kind-ack-edit = 确认
sub-orgs = 仅 { $orgs } 及下级
sub-levels = 等级 { $levels }
sub-rec-users = { $names } 的录音
sub-rec-groups = { $names } 成员的录音
sub-rec-orgs = { $orgs } 及下级人员的录音
sub-or = ，或
sub-within = 仅限 { $orgs } 及下级的人员
sub-done = 本会话现在接收：
unsub-done = 已取消 { $count } 项订阅。
subs-title = 本会话接收：
subs-none = 本会话尚未订阅任何平台消息。
subs-hint = 用 /subscribe 或 /unsubscribe 修改（单独发送 <code>/subscribe</code> 查看用法）。
subs-topic = （话题 { $thread }）
mute-set = 🔇 已静音至 { $until }。期间的消息会保留，静音结束后汇总发送。
mute-off = 🔔 静音结束，保留的消息随后发送。
mute-on = 🔇 静音至 { $until }。
mute-summary-title = 🔔 静音期间保留了 { $count } 条消息：

## /status

status-title = <b>桥接状态</b>
status-platform-ok = 🟢 平台可达，令牌有效
status-platform-token = 🔴 平台拒绝了桥接的令牌：{ $detail }
status-platform-down = 🔴 平台不可达：{ $detail }
status-directory = 📒 通讯录：{ $users } 名用户，{ $groups } 个对讲组，{ $orgs } 个组织，加载于 { $age }
status-directory-error = ⚠️ 上次刷新通讯录失败：{ $detail }
status-outbox = 📤 发件箱：待发 { $pending }，已发 { $sent }，死信 { $dead }
status-notices-dead = ⚠️ { $count } 条通知被平台拒绝
status-last-event = 📥 最近的平台事件：{ $age }
status-uptime = ⏱ 运行自 { $age }
status-never = 从未

## Admin: accounts, groups, terminals, audit

reg-bad = 有 { $count } 行有误，未发送任何数据。请改正后重新发送整批：
reg-bad-row = 第 { $line } 行：<code>{ $text }</code> — { $reason }
reg-why-empty = 账号或姓名为空
reg-why-columns = 应为两列：账号,姓名
reg-why-account = 账号只能包含字母、数字和 _ . @ -（2–32 位）
reg-why-name = 姓名过长或含有 &lt; &gt; &amp; 或引号
reg-why-duplicate = 该账号在本批中重复
reg-too-many = 每批最多 { $max } 个账号。
reg-ask-password = { $count } 个账号已就绪。请发送它们统一使用的密码，我会立即删除你的消息。（/cancel 取消）
reg-file-too-big = 文件太大，请发送不超过 2 MB 的“账号,姓名”列表。
reg-file-encoding = 无法读取该文件：请保存为 UTF-8 或 GBK 文本（CSV 或 TXT）。
reg-password-short = 密码太短（至少 6 位）。请重新发送 /register。
reg-progress = ⏳ 正在注册… { $done }/{ $total }
reg-done = 完成：新建 { $created } 个，已存在 { $exists } 个，失败 { $failed } 个。
reg-unknown = 结果未知（{ $detail }），请先在平台上核实再重新提交
reg-not-returned = 平台未返回该账号
admin-ambiguous = “{ $query }”匹配多个：{ $names }。请使用 ID 或完整账号。
deluser-confirm = 确定从平台删除以下 { $count } 名用户？
deluser-done = 已删除：{ $names }
nothing-pending = 没有待确认的操作。
mkgroup-done = 已创建对讲组 <b>{ $name }</b>：ID <code>{ $id }</code>，所属 { $org }，{ $members } 名成员。
bind-bad-spec = 无法识别“{ $spec }”。
bind-line = { $name }：优先级 { $priority }，可呼叫：{ $call }，可讲话：{ $speak }
yes = 是
no = 否
bind-done = 已绑定到 <b>{ $group }</b>：
device-idle = 终端 <code>{ $id }</code> 已设为空闲。
device-assigned = 终端 <code>{ $id }</code> 已分配给 { $account }。
device-repair = 终端 <code>{ $id }</code> 已设为维修中。
audit-title = <b>最近 { $count } 项操作</b>
audit-none = 暂无记录。
audit-csv = 最近 90 天的 { $count } 项操作。

# /audit 的每一行；$what 是操作与对象，$details 是“类型：事件上报；组织：266”这样的细节
audit-line = { $time } { $who } { $what } → { $result }
audit-line-details = { $time } { $who } { $what }（{ $details }）→ { $result }
audit-detail = { $key }：{ $value }
audit-detail-sep = ；
audit-list-sep = 、
audit-all = 全部
audit-ok = 成功
audit-state-assigned = 已分配
audit-state-idle = 空闲
audit-state-repair = 维修中
audit-action-acknowledge = 确认事件
audit-action-attendance = 查询考勤
audit-action-bind = 绑定对讲组成员
audit-action-broadcast = 群发通知
audit-action-deluser = 删除账号
audit-action-device = 设置终端
audit-action-invite = 创建邀请链接
audit-action-invite-redeem = 使用邀请链接
audit-action-mkgroup = 创建对讲组
audit-action-mute = 静音
audit-action-recording-play = 播放录音
audit-action-heard = 搜索转写
audit-action-register = 注册账号
audit-action-report = 设置每日考勤汇总
audit-action-report-off = 停止每日考勤汇总
audit-action-role = 设置角色
audit-action-signins = 查询签到
audit-action-subscribe = 订阅
audit-action-track = 查询轨迹
audit-action-unsubscribe = 取消订阅
audit-action-unwatch = 取消关注
audit-action-watch = 关注对讲组
audit-action-where = 查询位置
audit-action-where-group = 查询对讲组位置
audit-key-account = 账号
audit-key-accounts = 账号
audit-key-at = 时间
audit-key-begin = 开始
audit-key-day = 日期
audit-key-files = 附件
audit-key-for = 时长
audit-key-from = 从
audit-key-group = 对讲组
audit-key-groups = 对讲组
audit-key-kind = 类型
audit-key-kinds = 类型
audit-key-levels = 等级
audit-key-members = 成员
audit-key-name = 名称
audit-key-names = 姓名
audit-key-org = 组织
audit-key-orgs = 组织
audit-key-role = 角色
audit-key-rows = 行数
audit-key-state = 状态
audit-key-thread = 话题
audit-key-title = 标题
audit-key-to = 到
audit-key-url = 链接
audit-key-users = 用户
audit-key-words = 关键词
audit-key-with-fix = 有位置

## Broadcast

btn-continue = 下一步 ▶
btn-edit = ✏️ 修改
btn-done = 完成 ▶
bc-targets =
    📢 <b>新通知</b> — 发给谁？
    点击下方组织（✅ 为已选）和/或发送用户名，然后点“下一步”。
    当前：{ $targets }
bc-nobody = 尚未选择
bc-orgs = 组织 { $names }
bc-users = 用户 { $names }
bc-added = 已添加：{ $names }
bc-need-target = 请先至少选择一个组织或用户。
bc-ask-title = 请发送标题（最多 { $max } 字）。
bc-ask-text = 请发送正文（最多 { $max } 字）。
bc-ask-files = 可发送图片、文件或粘贴链接作为附件（最多 { $max } 个），完成后点“完成”。
bc-too-long = 共 { $length } 字，上限为 { $max } 字，请缩短后重新发送。
bc-files-full = 已有 { $max } 个附件，请点“完成”。
bc-not-a-link = 请发送图片、文件或 http(s) 链接，或点“完成”。
bc-file-too-big = 机器人最多只能获取 20 MB 的文件，请改发链接。
bc-file-added = 📎 已附加 { $name }（{ $count }）。
bc-preview-head = <b>预览</b> — 终端和群聊将看到：
bc-preview-reach = 将送达终端约 { $users } 人（{ $targets }）以及 { $chats } 个已订阅的会话。
bc-edit-targets = 接收人
bc-edit-title = 标题
bc-edit-text = 正文
bc-edit-files = 附件
bc-expired = 这条通知已不在编辑中，请重新发送 /broadcast。
bc-already = 已发送。
bc-sending = 正在发送…
bc-sent-head = 📢 <b>通知已发送</b>
bc-platform-ok = ✅ 终端：平台已接收。
bc-platform-failed = ❌ 终端：平台拒绝（{ $detail }）。
bc-platform-retrying = ⏳ 终端：暂时无法连接平台。通知已保存，平台恢复后立即发送（最多尝试一小时）。
bc-platform-gave-up = ❌ 终端：一小时内都无法连接平台，通知未发到终端。
bc-platform-unknown = ⚠️ 终端：平台没有给出明确应答。请先在平台上确认终端是否已收到，再决定是否重发。
bc-chats = 💬 会话：已排队发往 { $count } 个会话。

## 定时任务：在线状态、考勤、每日汇总、平台健康（bot.jobs）

presence-title = 👀 <b>在线状态</b> · { $time }
presence-here = 🟢 在本组上线（{ $count }）：
presence-elsewhere = 🟡 在其他组上线（{ $count }）：
presence-offline = ⚪ 已离线（{ $count }）：
watch-done = 👀 本会话开始关注 <b>{ $group }</b>：当前 { $count } 名成员中 { $online } 人在线。成员上线或离线时我会在这里通知（每 { $seconds } 秒检查一次；变化持续两次检查后才通知）。
watch-already = 👀 本会话已在关注 <b>{ $group }</b>：当前 { $count } 名成员中 { $online } 人在线。
unwatch-done = 本会话已停止关注 <b>{ $group }</b>。
unwatch-not = 本会话没有关注 <b>{ $group }</b>。
watch-line = 👀 { $group } 的在线状态（/watch）
report-line = 🕘 每天 { $time }（{ $zone }）的考勤汇总
report-line-org = 🕘 每天 { $time }（{ $zone }）{ $org } 的考勤汇总
report-set = 🕘 本会话将在每天 { $time }（{ $zone }）收到考勤汇总：昨天全天、今天截至当时，并附全部记录的 CSV。第一次：{ $first }。
report-set-org = 🕘 本会话将在每天 { $time }（{ $zone }）收到 { $org } 的考勤汇总：昨天全天、今天截至当时，并附全部记录的 CSV。第一次：{ $first }。
report-first-today = 今天 { $time }
report-first-tomorrow = 明天 { $time }（今天的 { $time } 已经过了，今天的汇总不再补发；要看今天的考勤，发送 /attendance）
report-first-date = { $day } { $time }
report-current = 本会话每天 { $time }（{ $zone }）收到考勤汇总。
report-current-org = 本会话每天 { $time }（{ $zone }）收到 { $org } 的考勤汇总。
report-current-none = 本会话没有设置每日考勤汇总。
report-off = 已停止每日考勤汇总。
report-none = 本会话没有设置每日考勤汇总。
att-title = 🕘 <b>{ $day } 考勤</b>
att-counts = 👥 应到 { $people } 人 · ✅ 上班打卡 { $clockedin } · 🏁 下班打卡 { $clockedout } · ⏰ 迟到 { $late } · ❌ 无记录 { $missing }
att-so-far = （截至 { $time }）
att-late-title = ⏰ <b>迟到</b>（{ $count }）：
att-late-line = { $name } <code>{ $account }</code> — { $time }（应 { $due }，晚 { $minutes } 分钟）
att-missing-title = ❌ <b>无打卡记录</b>（{ $count }）：
att-not-out-title = 🚪 <b>上班打卡后未下班打卡</b>（{ $count }）：
att-none = { $day } 没有打卡记录。
att-csv-caption = 📎 { $day }：共 { $count } 条记录（CSV，可用 Excel 打开）
att-csv-columns = 日期|时间|用户ID|账号|姓名|组织|打卡|应打卡时间|宽限(分钟)|迟到(分钟)|班次|排班|地址|坐标
att-event-in = 上班
att-event-out = 下班
att-event-superseded = 已被覆盖
att-type-scheduled = 排班
att-type-unscheduled = 非排班
signin-title = 📍 <b>{ $day } 签到</b>
signin-counts = { $people } 人共签到 { $count } 次
signin-line = { $time } { $name } — { $place }
signin-none = { $day } 没有签到记录。
signin-csv-columns = 日期|时间|记录ID|用户ID|姓名|电话|组织|地点|经度|纬度|备注|图片
digest-title = 🗓 <b>每日考勤汇总</b>
alert-platform-down = ⚠️ 平台没有响应桥接服务：{ $detail }。在线状态、录音和考勤汇总将等待平台恢复，恢复后我会通知你。请检查桥接服务所在主机能否访问 PLATFORM_BASE_URL，以及平台是否在运行。
alert-platform-token = ⚠️ 平台拒绝了桥接服务的令牌（{ $detail }）。修复前无法从平台读取任何数据：请检查 PLATFORM_TOKEN，或 PLATFORM_ACCOUNT 与 PLATFORM_PASSWORD，然后重启桥接服务。
alert-platform-back = ✅ 平台已恢复响应（中断了 { $duration }）。

# -- hostile input: /recordings days, durations (issue 12, points 16 and 19)
rec-future = { $day } 是未来的日期，还没有录音。

# -- roles and scope: /role, /invite, /register, /device (issue 12, points 2, 4, 6)
role-not-yours = <code>{ $id }</code> 的角色超出了你管理的组织范围，只有管辖范围覆盖它的管理员才能修改。
role-beyond-reach = 你只能在自己的组织范围内授予角色。
invite-not-yours = 这个邀请链接无法更改你现有的角色，请联系管理员。
reg-scoped = /register 会在平台的顶级组织中创建账号，超出了你的组织范围；请联系不受组织限制的管理员。
reg-private-only = 密码不能在群里发送。请到与我的私聊中继续 /register：{ $link }
reg-password-not-deleted = ⚠️ 我无法删除你发送密码的那条消息：请你自己删除它，并修改这个密码。
device-not-found = 没有与“{ $id }”匹配的终端。

# -- buttons and what a chat receives: Acknowledge, button owners, chat admins, scope (issue 12, points 3, 4, 5)
ack-refused = 你不能在这里确认这个事件。
button-not-yours = 这个按钮只回应发出请求的人：请自己发送这条命令。
chat-admin-only = 只有本群的管理员、并且具有{ $role }权限的人，才能更改本群接收的内容。
scope-wider = 本群的{ $kind }超出了你的组织范围（是由管辖范围更大的人设置的），只有管辖范围覆盖它的人才能更改。
scope-what-watch = 对 { $group } 的在线关注
outside-scope = 另有 { $count } 项不在你的范围内
outside-scope-watches = 👀 另有 { $count } 个对讲组的在线状态不在你的范围内 (/watch)
outside-scope-org = 你范围以外的某个组织

# -- flood control: a user over the command limit (issue 12, point 14)
throttled = ⏳ 你发送命令太频繁了：接下来 { $seconds } 秒内我不再回应你的命令，之后恢复正常。

# -- 超长事件与链接：已确认收到的事件一定送达（issue 12，第 8、12、18 点）
text-more = …（还有 { $count } 个字符）
inc-more-attachments = 📎 另有 { $count } 个附件，链接如下：

# Commands from no person (an anonymous group admin, a channel)
anonymous-sender = 无法确认发送者：以群或频道的身份发送的命令不予处理。请在管理员权限中关闭“匿名发言”，或用您自己的账号发送。

## /fence、/near、/follow 中输入的位置、半径和时长
err-radius-unparseable = 无法识别半径“{ $text }”。可用格式：<code>300米</code>、<code>1.5公里</code>。
err-radius-range = 半径须在 { $min_m } 米到 { $max_km } 公里之间（收到“{ $text }”）。
err-latlon-unparseable = 无法识别位置“{ $text }”。请写 纬度,经度：<code>30.2741,120.1551</code>。
err-latlon-range = “{ $text }”超出范围：纬度在 ±90 之内，经度在 ±180 之内（纬度在前）。
err-follow-duration-unparseable = 无法识别时长“{ $text }”。可用格式：<code>30m</code>、<code>2h</code>。
err-follow-duration-range = 跟随最长 { $hours } 小时（收到“{ $text }”）。

## /audit：实时位置与电子围栏
audit-action-fence-add = 添加电子围栏
audit-action-fence-del = 删除电子围栏
audit-action-fence-unwatch = 停止围栏提醒
audit-action-fence-watch = 设置围栏提醒
audit-action-follow = 实时跟随
audit-action-near = 查询附近成员
audit-action-unfollow = 停止跟随
audit-key-button = 按钮
audit-key-candidates = 候选
audit-key-chat = 会话
audit-key-count = 数量
audit-key-events = 事件
audit-key-fence = 电子围栏
audit-key-id = ID
audit-key-lat = 纬度
audit-key-lon = 经度
audit-key-minutes = 分钟
audit-key-online = 在线
audit-key-radius-m = 半径（米）
audit-key-targets = 对象
audit-key-watches = 提醒
