## /heard: recordings whose transcript contains some words (issue #17), and the words of a
## recordings subscription

cmd-heard = Recordings in which some words were said
help-example-heard = /heard fire yesterday
usage-heard =
    Usage: <code>/heard &lt;words…&gt; [date | from to] [user | group]</code> — recordings whose transcript contains every word (quotes keep a phrase together), newest first; no time: all kept.
    Examples: <code>/heard fire</code>, <code>/heard "under control" yesterday</code>, <code>/heard rescue -2d zhangsan01</code>
heard-off = Transcripts are off: the bridge has no speech-recognition server (BRIDGE_ASR_URL).
heard-title = 🔎 { $words } — { $count ->
        [one] one recording
       *[other] { $count } recordings
    }, page { $page } of { $pages } (newest first)
heard-title-many = 🔎 { $words } — over { $count ->
        [one] one recording
       *[other] { $count } recordings
    }, page { $page } (newest first)
heard-none = No transcript contains { $words }.
heard-span = 🗓 { $start } – { $end }
heard-who = 👤 { $name }
usage-subscribe-words = Recordings only when their transcript contains one of some words: add <code>words &lt;w…&gt;</code>, e.g. <code>/subscribe recordings group 1002 words fire rescue</code> (needs a speech-recognition server).
sub-words = when the transcript says { $words }
