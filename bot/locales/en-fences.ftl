# /fence: geofences, and the crossing alerts a chat watching one receives (issue 15, point 4)
# $name: a fence's name; $radius: its radius with its unit; $place: latitude, longitude;
# $who: a radio user (name and account) or a talk group; $time: when (local time)
# A polygon fence (issue 16): $points: how many corners; $across: its width with its unit;
# $point, $other: a corner's number (from 1); $count: how many corners were given

usage-fence =
    Usage: reply to a shared location with <code>/fence add &lt;name&gt; &lt;radius&gt;</code>, or <code>/fence add &lt;name&gt; &lt;lat&gt;,&lt;lon&gt; &lt;radius&gt;</code> (a circle), or <code>/fence add &lt;name&gt; &lt;lat&gt;,&lt;lon&gt; &lt;lat&gt;,&lt;lon&gt; &lt;lat&gt;,&lt;lon&gt; …</code> (a polygon: its corners in order, no radius); <code>/fence watch &lt;fence&gt; &lt;user|group…&gt; [enter|leave]</code>; <code>/fence list</code>; <code>/fence del &lt;name&gt;</code>; <code>/fence unwatch &lt;fence&gt; [user|group…]</code>
    Example: <code>/fence add depot 30.2741,120.1551 300m</code>
usage-fence-add =
    Usage: reply to a shared location with <code>/fence add &lt;name&gt; &lt;radius&gt;</code>, or <code>/fence add &lt;name&gt; &lt;lat&gt;,&lt;lon&gt; &lt;radius&gt;</code> (a circle), or <code>/fence add &lt;name&gt; &lt;lat&gt;,&lt;lon&gt; &lt;lat&gt;,&lt;lon&gt; &lt;lat&gt;,&lt;lon&gt; …</code> (a polygon: 3 to 50 corners in order, no radius)
    Example: <code>/fence add depot 30.2741,120.1551 300m</code>
    Example: <code>/fence add yard 30.2741,120.1551 30.2741,120.1580 30.2760,120.1565</code>
usage-fence-watch =
    Usage: <code>/fence watch &lt;fence&gt; &lt;user|group…&gt; [enter|leave]</code>
    Example: <code>/fence watch depot zhangsan01 leave</code>
usage-fence-del =
    Usage: <code>/fence del &lt;name&gt;</code>
    Example: <code>/fence del depot</code>
usage-fence-unwatch =
    Usage: <code>/fence unwatch &lt;fence&gt; [user|group…]</code>
    Example: <code>/fence unwatch depot zhangsan01</code>
fence-no-place = No place for the fence: reply to a shared location (attachment → Location), or give it as <code>&lt;lat&gt;,&lt;lon&gt;</code>.
fence-radius-metres = { $metres } m
fence-radius-kilometres = { $km } km
fence-added = 🚧 Fence <b>{ $name }</b> added: { $radius } around { $place }. To be told here who enters or leaves it: <code>/fence watch { $name } &lt;user|group&gt;</code>
fence-added-polygon = 🚧 Fence <b>{ $name }</b> added: a polygon of { $points ->
        [one] one point
       *[other] { $points } points
    }, ~{ $across } across, around { $place }. To be told here who enters or leaves it: <code>/fence watch { $name } &lt;user|group&gt;</code>
fence-polygon-points = A polygon fence has 3 to 50 corners, not { $count }. For a circle, give one point and a radius.
fence-polygon-range = Corner { $point } is off the map: latitude within ±90, longitude within ±180 (latitude first).
fence-polygon-repeated = Corner { $point } is the same place as corner { $other }: give each corner once (the polygon closes by itself).
fence-polygon-crossing = The polygon's edges cross (the edge after corner { $point } and the one after corner { $other }): give the corners in order around the fence.
fence-polygon-small = The polygon is too small: it must enclose at least 100 m².
fence-polygon-large = The polygon is too large: every corner must be within 50 km of its centre.
fence-polygon-radius = A fence of { $points ->
        [one] one corner
       *[other] { $points } corners
    } is a polygon and takes no radius. For a circle, give one point and a radius.
fence-taken = There is already a fence called <b>{ $name }</b>: pick another name, or <code>/fence del { $name }</code> first.
fence-unknown = No fence called “{ $query }”. <code>/fence list</code> shows them.
fence-ambiguous = Several fences are called “{ $query }” (in different orgs): { $names }. Delete or rename one first.
fence-deleted = 🗑 Fence <b>{ $name }</b> deleted, with { $count ->
        [0] no watch
        [one] its one watch
       *[other] its { $count } watches
    }.
fence-watching-both = 🚧 This chat is told when { $who } enters or leaves <b>{ $name }</b>.
fence-watching-enter = 🚧 This chat is told when { $who } enters <b>{ $name }</b>.
fence-watching-leave = 🚧 This chat is told when { $who } leaves <b>{ $name }</b>.
fence-unwatched = { $count ->
        [0] This chat watched nobody on <b>{ $name }</b>.
        [one] Stopped one watch of <b>{ $name }</b> here.
       *[other] Stopped { $count } watches of <b>{ $name }</b> here.
    }
fence-list-empty = No fences yet. Reply to a shared location with <code>/fence add &lt;name&gt; &lt;radius&gt;</code>.
fence-list-title = 🚧 Fences:
fence-list-line = • <b>{ $name }</b>: circle r = { $radius } around { $place }
fence-list-polygon = • <b>{ $name }</b>: polygon, { $points ->
        [one] one point
       *[other] { $points } points
    }, ~{ $across } across, around { $place }
fence-list-watches = Watched in this chat:
fence-line-both = 🚧 { $who } entering or leaving { $name } (/fence)
fence-line-enter = 🚧 { $who } entering { $name } (/fence)
fence-line-leave = 🚧 { $who } leaving { $name } (/fence)
fence-outside-scope = 🚧 { $count ->
        [one] one fence watch
       *[other] { $count } fence watches
    } outside your scope (/fence)
fence-entered = 🚧 { $who } entered <b>{ $name }</b> at { $time }.
fence-left = 🚧 { $who } left <b>{ $name }</b> at { $time }.
kind-fence = fence crossings
