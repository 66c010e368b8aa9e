## Transcripts under voice messages (issue #17)

# The line added under a recording's caption when its transcript is ready.
transcript-line = 📝 { $text }
# Ends the excerpt when the whole transcript does not fit in the caption.
transcript-cut = … (the whole text is in the reply)
# The reply with the whole transcript.
transcript-reply = 📝 Transcript: { $text }

# A kind of message in a mute's summary: captions completed with transcripts.
kind-transcripts = transcripts
