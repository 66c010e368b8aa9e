## 语音消息下的转写文字（issue #17）

# 转写完成后加在录音说明下的一行。
transcript-line = 📝 { $text }
# 说明放不下全部转写时，摘录以此结尾。
transcript-cut = …（全文见回复）
# 回复中的全部转写文字。
transcript-reply = 📝 转写：{ $text }

# 静音汇总中的一类消息：补上转写文字的说明。
kind-transcripts = 转写

# /status：转写队列（配置了语音识别服务器时显示）。
# $age：等得最久的录音何时排队（“4 分钟前”）。
status-transcripts = 📝 转写：{ $pending ->
        [0] 无等待
       *[other] { $pending } 条等待中，最早一条排队于{ $age }
    }；近 24 小时放弃 { $failed } 条
# $detail：错误的种类（HTTP 503、timeout、network、audio HTTP 404 等），不含文字内容。
status-transcripts-error = ⚠️ 最近一次转写错误：{ $detail }，{ $age }
