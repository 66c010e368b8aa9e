## /heard：转写文本包含某些词的录音（issue #17），以及录音订阅的关键词

cmd-heard = 查找说过某些词的录音
help-example-heard = /heard 火情 昨天
usage-heard =
    用法：<code>/heard &lt;词…&gt; [日期 | 开始 结束] [用户 | 对讲组]</code> — 转写文本包含所有这些词的录音（用引号把短语括在一起），最新在前；不指定时间则查全部保存的录音。
    示例：<code>/heard 火情</code>、<code>/heard "火势已经控制" 昨天</code>、<code>/heard 救援 -2d zhangsan01</code>
heard-off = 转写功能未开启：桥接器没有配置语音识别服务器（BRIDGE_ASR_URL）。
heard-title = 🔎 { $words } — { $count } 条录音，第 { $page }/{ $pages } 页（最新在前）
heard-title-many = 🔎 { $words } — 超过 { $count } 条录音，第 { $page } 页（最新在前）
heard-none = 没有转写文本包含 { $words }。
heard-span = 🗓 { $start } – { $end }
heard-who = 👤 { $name }
usage-subscribe-words = 只要转写文本包含某些词之一的录音：加上 <code>words &lt;词…&gt;</code>，例如 <code>/subscribe recordings group 1002 words 火情 救援</code>（需要语音识别服务器）。
sub-words = 转写文本含 { $words } 时
