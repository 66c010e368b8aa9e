# /fence：电子围栏，以及关注围栏的会话收到的进出提醒（issue 15，第 4 点）
# 多边形围栏（issue 16）：$points 顶点数；$across 宽度（带单位）；$point、$other 第几个顶点（从 1 起）；$count 给出的顶点数

usage-fence =
    用法：回复一条共享位置发送 <code>/fence add &lt;名称&gt; &lt;半径&gt;</code>，或 <code>/fence add &lt;名称&gt; &lt;纬度&gt;,&lt;经度&gt; &lt;半径&gt;</code>（圆形），或 <code>/fence add &lt;名称&gt; &lt;纬度&gt;,&lt;经度&gt; &lt;纬度&gt;,&lt;经度&gt; &lt;纬度&gt;,&lt;经度&gt; …</code>（多边形：按顺序给出各顶点，不写半径）；<code>/fence watch &lt;围栏&gt; &lt;用户|对讲组…&gt; [enter|leave]</code>；<code>/fence list</code>；<code>/fence del &lt;名称&gt;</code>；<code>/fence unwatch &lt;围栏&gt; [用户|对讲组…]</code>
    示例：<code>/fence add 东站 30.2741,120.1551 300米</code>
usage-fence-add =
    用法：回复一条共享位置发送 <code>/fence add &lt;名称&gt; &lt;半径&gt;</code>，或 <code>/fence add &lt;名称&gt; &lt;纬度&gt;,&lt;经度&gt; &lt;半径&gt;</code>（圆形），或 <code>/fence add &lt;名称&gt; &lt;纬度&gt;,&lt;经度&gt; &lt;纬度&gt;,&lt;经度&gt; &lt;纬度&gt;,&lt;经度&gt; …</code>（多边形：按顺序给出 3 到 50 个顶点，不写半径）
    示例：<code>/fence add 东站 30.2741,120.1551 300米</code>
    示例：<code>/fence add 场院 30.2741,120.1551 30.2741,120.1580 30.2760,120.1565</code>
usage-fence-watch =
    用法：<code>/fence watch &lt;围栏&gt; &lt;用户|对讲组…&gt; [enter|leave]</code>
    示例：<code>/fence watch 东站 zhangsan01 leave</code>
usage-fence-del =
    用法：<code>/fence del &lt;名称&gt;</code>
    示例：<code>/fence del 东站</code>
usage-fence-unwatch =
    用法：<code>/fence unwatch &lt;围栏&gt; [用户|对讲组…]</code>
    示例：<code>/fence unwatch 东站 zhangsan01</code>
fence-no-place = 缺少围栏的位置：请回复一条共享位置（附件 → 位置），或写成 <code>&lt;纬度&gt;,&lt;经度&gt;</code>。
fence-radius-metres = { $metres } 米
fence-radius-kilometres = { $km } 公里
fence-added = 🚧 已添加围栏 <b>{ $name }</b>：以 { $place } 为中心，半径 { $radius }。要在本会话收到进出提醒：<code>/fence watch { $name } &lt;用户|对讲组&gt;</code>
fence-added-polygon = 🚧 已添加围栏 <b>{ $name }</b>：{ $points } 个顶点的多边形，宽约 { $across }，中心 { $place }。要在本会话收到进出提醒：<code>/fence watch { $name } &lt;用户|对讲组&gt;</code>
fence-polygon-points = 多边形围栏须有 3 到 50 个顶点，收到 { $count } 个。圆形围栏请给一个点和半径。
fence-polygon-range = 第 { $point } 个顶点超出范围：纬度在 ±90 之内，经度在 ±180 之内（纬度在前）。
fence-polygon-repeated = 第 { $point } 个顶点与第 { $other } 个是同一位置：每个顶点只写一次（多边形会自动闭合）。
fence-polygon-crossing = 多边形的边相交（第 { $point } 个顶点之后的边与第 { $other } 个顶点之后的边）：请沿围栏按顺序给出顶点。
fence-polygon-small = 多边形太小：面积至少 100 平方米。
fence-polygon-large = 多边形太大：每个顶点距中心都须在 50 公里以内。
fence-polygon-radius = { $points } 个顶点构成多边形，不需要半径。圆形围栏请给一个点和半径。
fence-taken = 已有名为 <b>{ $name }</b> 的围栏：请换一个名称，或先 <code>/fence del { $name }</code>。
fence-unknown = 没有名为“{ $query }”的围栏。<code>/fence list</code> 可查看全部围栏。
fence-ambiguous = 有多个名为“{ $query }”的围栏（属于不同组织）：{ $names }。请先删除或改名其中一个。
fence-deleted = 🗑 已删除围栏 <b>{ $name }</b> 及其 { $count } 个关注。
fence-watching-both = 🚧 { $who } 进入或离开 <b>{ $name }</b> 时，本会话会收到提醒。
fence-watching-enter = 🚧 { $who } 进入 <b>{ $name }</b> 时，本会话会收到提醒。
fence-watching-leave = 🚧 { $who } 离开 <b>{ $name }</b> 时，本会话会收到提醒。
fence-unwatched = { $count ->
        [0] 本会话没有关注 <b>{ $name }</b> 的任何人。
       *[other] 已取消本会话对 <b>{ $name }</b> 的 { $count } 个关注。
    }
fence-list-empty = 还没有围栏。回复一条共享位置发送 <code>/fence add &lt;名称&gt; &lt;半径&gt;</code> 即可添加。
fence-list-title = 🚧 围栏：
fence-list-line = • <b>{ $name }</b>：圆形，以 { $place } 为中心，半径 { $radius }
fence-list-polygon = • <b>{ $name }</b>：多边形，{ $points } 个顶点，宽约 { $across }，中心 { $place }
fence-list-watches = 本会话关注：
fence-line-both = 🚧 { $who } 进出 { $name }（/fence）
fence-line-enter = 🚧 { $who } 进入 { $name }（/fence）
fence-line-leave = 🚧 { $who } 离开 { $name }（/fence）
fence-outside-scope = 🚧 另有 { $count } 个围栏关注不在你的范围内（/fence）
fence-entered = 🚧 { $who } 于 { $time } 进入 <b>{ $name }</b>。
fence-left = 🚧 { $who } 于 { $time } 离开 <b>{ $name }</b>。
kind-fence = 围栏进出
