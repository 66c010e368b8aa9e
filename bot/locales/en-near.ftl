## /near: the online members nearest to a place

usage-near = Usage: reply to a shared location with <code>/near [radius]</code>, or <code>/near &lt;lat&gt;,&lt;lon&gt; [radius]</code>, or <code>/near &lt;user&gt; [radius]</code> — default radius 5 km. Example: <code>/near 30.2741,120.1551 2km</code>
near-metres = { $metres } m
near-kilometres = { $km } km
near-place-shared = the shared location
near-place-user = { $name } ({ $account })
near-title =
    { $count ->
        [one] One member online
       *[other] { $count } members online
    } within { $radius } of { $place }, nearest first:
near-none = Nobody online within { $radius } of { $place }.
near-none-beyond = No online member in your scope has a position.
near-beyond = Nearest beyond it: { $name } ({ $account }) · { $distance } · { $age }
near-ambiguous =
    “{ $query }”: { $count ->
        [one] one user matches
       *[other] { $count } users match
    } — type more to narrow it down:
