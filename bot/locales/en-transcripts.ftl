## Transcripts under voice messages (issue #17)

# The line added under a recording's caption when its transcript is ready.
transcript-line = 📝 { $text }
# Ends the excerpt when the whole transcript does not fit in the caption.
transcript-cut = … (the whole text is in the reply)
# The reply with the whole transcript.
transcript-reply = 📝 Transcript: { $text }

# A kind of message in a mute's summary: captions completed with transcripts.
kind-transcripts = transcripts

# /status: the transcription queue (shown when a speech-recognition server is configured).
# $age: when the oldest waiting recording was queued ("4 min ago").
status-transcripts = 📝 Transcripts: { $pending ->
        [0] none waiting
       *[other] { $pending } waiting, the oldest queued { $age }
    }, { $failed } given up in the last 24 h
# $detail: the kind of error (HTTP 503, timeout, network, audio HTTP 404, …), never a text.
status-transcripts-error = ⚠️ Last transcription error: { $detail }, { $age }
