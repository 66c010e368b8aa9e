## 语音消息下的转写文字（issue #17）

# 转写完成后加在录音说明下的一行。
transcript-line = 📝 { $text }
# 说明放不下全部转写时，摘录以此结尾。
transcript-cut = …（全文见回复）
# 回复中的全部转写文字。
transcript-reply = 📝 转写：{ $text }

# 静音汇总中的一类消息：补上转写文字的说明。
kind-transcripts = 转写
