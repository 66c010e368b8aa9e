// The dispatch map (Telegram Mini App): plain JS over Leaflet, data from /app/api/.
// Every string from the API goes into the page as text (textContent), never as HTML.
"use strict";

(function () {
  const WORDS = {
    en: {
      title: "Map",
      zoom_in: "Zoom in",
      zoom_out: "Zoom out",
      pick: "Talk group or org",
      groups: "Talk groups",
      orgs: "Orgs",
      user: "Member",
      choose: "Choose a talk group…",
      online: "online",
      stale: "online, old fix",
      offline: "offline",
      no_fix: "no position",
      legend_speed: "Speed",
      kmh: "{v} km/h",
      account: "Account",
      status: "Status",
      fix_age: "Position",
      speed: "Speed",
      heading: "Heading",
      altitude: "Altitude",
      metres: "{v} m",
      deg: "{dir} ({v}°)",
      compass: "N NE E SE S SW W NW",
      fix_at: "{time} ({ago})",
      ago_s: "{v} s ago",
      ago_m: "{v} min ago",
      ago_h: "{v} h ago",
      ago_d: "{v} d ago",
      track: "Track",
      recordings: "Recordings",
      follow: "Follow",
      stop_follow: "Stop following",
      close: "Close",
      track_hours: "Hours back",
      hours: "{v} h",
      track_summary: "Last {h} h: {points} points, {km} km, max {max} km/h",
      track_none: "No track in the last {h} h.",
      track_at: "{time} · {speed}",
      rec_none: "No recordings today.",
      rec_item: "▶ {time} · {seconds} s · {group}",
      rec_loading: "Loading the recording…",
      viewer_note: "Positions need a supervisor: you see who is online.",
      fence_add: "+ Fence",
      fence_new: "New fence",
      circle: "Circle",
      polygon: "Polygon",
      hint_circle: "Tap the centre, then set the radius.",
      hint_polygon: "Tap the corners, then Done.",
      radius: "Radius: {v} m",
      done: "Done",
      fence_name: "Fence name",
      save: "Save",
      cancel: "Cancel",
      delete: "Delete",
      fence_deleted: "Fence deleted.",
      polygon_short: "A polygon needs at least 3 points.",
      name_missing: "Give the fence a name.",
      no_init: "Open the map from Telegram: this page needs Telegram's sign-in.",
      e401: "Open the map again from Telegram: the sign-in has expired or is not valid.",
      e403: "You have no role for the map. Ask an admin.",
      e403_sup: "Only supervisors may do this.",
      e404_me: "The map is off on this bridge.",
      e404: "Not found, or outside your scope.",
      e409: "That name is taken.",
      e400: "Not accepted: {reason}",
      e_net: "The bridge cannot be reached. Retrying…",
      e502: "The dispatch platform did not answer as expected. Try again shortly.",
      e504: "The dispatch platform is not answering. Try again shortly.",
      e_other: "The bridge answered {status}.",
      nobody: "Nobody with a position here.",
    },
    zh: {
      title: "地图",
      zoom_in: "放大",
      zoom_out: "缩小",
      pick: "对讲组或组织",
      groups: "对讲组",
      orgs: "组织",
      user: "成员",
      choose: "选择对讲组…",
      online: "在线",
      stale: "在线，位置较旧",
      offline: "离线",
      no_fix: "无位置",
      legend_speed: "速度",
      kmh: "{v} 公里/小时",
      account: "账号",
      status: "状态",
      fix_age: "位置",
      speed: "速度",
      heading: "方向",
      altitude: "海拔",
      metres: "{v} 米",
      deg: "{dir}（{v}°）",
      compass: "北 东北 东 东南 南 西南 西 西北",
      fix_at: "{time}（{ago}）",
      ago_s: "{v} 秒前",
      ago_m: "{v} 分钟前",
      ago_h: "{v} 小时前",
      ago_d: "{v} 天前",
      track: "轨迹",
      recordings: "录音",
      follow: "跟随",
      stop_follow: "停止跟随",
      close: "关闭",
      track_hours: "往前查看",
      hours: "{v} 小时",
      track_summary: "最近 {h} 小时：{points} 个点，{km} 公里，最高 {max} 公里/小时",
      track_none: "最近 {h} 小时没有轨迹。",
      track_at: "{time} · {speed}",
      rec_none: "今天没有录音。",
      rec_item: "▶ {time} · {seconds} 秒 · {group}",
      rec_loading: "正在加载录音…",
      viewer_note: "查看位置需要主管权限：您可以看到谁在线。",
      fence_add: "+ 围栏",
      fence_new: "新建围栏",
      circle: "圆形",
      polygon: "多边形",
      hint_circle: "点击中心点，再调整半径。",
      hint_polygon: "依次点击各个角点，然后点“完成”。",
      radius: "半径：{v} 米",
      done: "完成",
      fence_name: "围栏名称",
      save: "保存",
      cancel: "取消",
      delete: "删除",
      fence_deleted: "围栏已删除。",
      polygon_short: "多边形至少需要 3 个点。",
      name_missing: "请填写围栏名称。",
      no_init: "请从 Telegram 打开地图：本页面需要 Telegram 的登录信息。",
      e401: "请从 Telegram 重新打开地图：登录信息已过期或无效。",
      e403: "您没有使用地图的角色，请联系管理员。",
      e403_sup: "只有主管可以这样做。",
      e404_me: "本桥接服务未开启地图。",
      e404: "未找到，或不在您的权限范围内。",
      e409: "该名称已被使用。",
      e400: "未被接受：{reason}",
      e_net: "无法连接桥接服务，正在重试…",
      e502: "调度平台没有正常应答，请稍后再试。",
      e504: "调度平台没有应答，请稍后再试。",
      e_other: "桥接服务返回 {status}。",
      nobody: "这里没有带位置的成员。",
    },
  };
  // Speed buckets of a track (km/h, upper bounds) and their colours.
  const SPEEDS = [
    { below: 5, color: "#1e88e5", label: "< 5" },
    { below: 30, color: "#43a047", label: "5–30" },
    { below: 60, color: "#fb8c00", label: "30–60" },
    { below: Infinity, color: "#e53935", label: "≥ 60" },
  ];
  const THEME = {
    bg_color: "--bg",
    text_color: "--text",
    hint_color: "--hint",
    link_color: "--link",
    button_color: "--button",
    button_text_color: "--button-text",
    secondary_bg_color: "--secondary-bg",
  };

  const $ = (id) => document.getElementById(id);
  const state = {
    lang: "en",
    auth: null,
    me: null,
    target: null, // {kind, id}
    members: new Map(), // id -> member
    markers: new Map(), // id -> L.Marker
    selected: null,
    following: null,
    track: null, // {points, layers, dot}
    fences: new Map(), // id -> {fence, layer}
    timer: null,
    fitted: false,
    draw: null,
    loads: 0,
    firstMarkersMs: null, // since navigation started (bench/bench_map_page.py)
  };
  let map = null;

  function t(key, args) {
    const words = WORDS[state.lang] || WORDS.en;
    let text = key in words ? words[key] : WORDS.en[key];
    for (const [k, v] of Object.entries(args || {})) text = text.split(`{${k}}`).join(String(v));
    return text;
  }

  function el(tag, props, children) {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(props || {})) {
      if (k === "text") node.textContent = v;
      else if (k === "class") node.className = v;
      else if (k.startsWith("data-")) node.setAttribute(k, v);
      else node[k] = v;
    }
    for (const child of children || []) node.append(child);
    return node;
  }

  // -- launch parameters ------------------------------------------------------------------

  function launch() {
    // Telegram appends #tgWebAppData=<urlencoded initData>&tgWebAppThemeParams=<json>&...
    const hash = new URLSearchParams(location.hash.replace(/^#/, ""));
    const query = new URLSearchParams(location.search);
    let theme = {};
    try {
      theme = JSON.parse(hash.get("tgWebAppThemeParams") || "{}") || {};
    } catch (e) {
      theme = {};
    }
    let hint = null;
    const initData = hash.get("tgWebAppData");
    if (initData) {
      try {
        hint = JSON.parse(new URLSearchParams(initData).get("user") || "{}").language_code;
      } catch (e) {
        hint = null;
      }
    }
    let target = null;
    for (const kind of ["group", "user", "org"]) {
      const v = query.get(kind);
      if (v && /^\d{1,12}$/.test(v)) target = { kind, id: Number(v) };
    }
    return { initData, theme, hint, target };
  }

  function applyTheme(theme) {
    const root = document.documentElement.style;
    for (const [key, variable] of Object.entries(THEME)) {
      const v = theme[key];
      if (typeof v === "string" && /^#[0-9a-fA-F]{3,8}$/.test(v)) root.setProperty(variable, v);
    }
  }

  function setLanguage(lang) {
    state.lang = lang && lang.toLowerCase().startsWith("zh") ? "zh" : "en";
    document.documentElement.lang = state.lang === "zh" ? "zh-CN" : "en";
    document.title = t("title");
    $("picker").setAttribute("aria-label", t("pick"));
    $("fence-add").textContent = t("fence_add");
    $("act-track").textContent = t("track");
    $("act-recordings").textContent = t("recordings");
    $("sheet-close").setAttribute("aria-label", t("close"));
    $("draw-close").setAttribute("aria-label", t("cancel"));
    $("draw-title").textContent = t("fence_new");
    $("draw-circle").textContent = t("circle");
    $("draw-polygon").textContent = t("polygon");
    $("draw-done").textContent = t("done");
    $("draw-save").textContent = t("save");
    $("draw-name").placeholder = t("fence_name");
    $("presence-note").textContent = t("viewer_note");
    $("track-hours-label").textContent = t("track_hours");
    for (const o of $("track-hours").options) o.textContent = t("hours", { v: o.value });
    followButton();
    legend();
  }

  // -- the API ----------------------------------------------------------------------------

  class ApiError extends Error {
    constructor(status, reason) {
      super(reason || String(status));
      this.status = status;
      this.reason = reason || "";
    }
  }

  async function api(path, options) {
    const { raw, ...init } = options || {};
    init.headers = Object.assign({ Authorization: `tma ${state.auth}` }, init.headers || {});
    let response;
    try {
      response = await fetch(path, init);
    } catch (e) {
      throw new ApiError(0, "");
    }
    if (!response.ok) {
      let reason = "";
      try {
        reason = (await response.json()).error || "";
      } catch (e) {
        reason = "";
      }
      throw new ApiError(response.status, reason);
    }
    return raw ? response : response.json();
  }

  function words(error, context) {
    switch (error.status) {
      case 0:
        return t("e_net");
      case 401:
        return t("e401");
      case 403:
        return /supervisor/i.test(error.reason) ? t("e403_sup") : t("e403");
      case 404:
        return context === "me" ? t("e404_me") : t("e404");
      case 409:
        return t("e409");
      case 400:
        return t("e400", { reason: error.reason });
      case 502:
        return t("e502");
      case 504:
        return t("e504");
      default:
        return t("e_other", { status: error.status });
    }
  }

  function banner(text) {
    const b = $("banner");
    b.textContent = text || "";
    b.hidden = !text;
    if (map) map.invalidateSize();
  }

  // -- the map ----------------------------------------------------------------------------

  function makeMap() {
    map = L.map("map", { attributionControl: false, zoomControl: false, worldCopyJump: true });
    L.control.zoom({ zoomInTitle: t("zoom_in"), zoomOutTitle: t("zoom_out") }).addTo(map);
    map.setView([30, 110], 4);
    L.tileLayer(state.me.map.tiles, { maxZoom: 19 }).addTo(map);
    // Fence names sit below the members' markers and names (markers are at 600): a fence's
    // name never hides who is inside it.
    map.createPane("fenceLabels").style.zIndex = "450";
    $("attribution").textContent = `Leaflet | ${state.me.map.attribution || ""}`;
    map.on("click", onMapClick);
  }

  function status(member) {
    if (!member.online) return "offline";
    return member.fix && member.fix.stale ? "stale" : "online";
  }

  function legend() {
    const box = $("legend");
    box.replaceChildren();
    if (!state.me) return;
    if (state.me.can.positions) {
      for (const s of ["online", "stale", "offline"]) {
        box.append(
          el("div", { class: "row" }, [el("span", { class: `swatch sw-${s}` }), t(s)])
        );
      }
    }
    if (state.me.can.positions && state.loads > 0 && state.markers.size === 0) {
      box.append(el("div", { class: "nobody", text: t("nobody") }));
    }
    if (state.track) {
      box.append(el("div", { text: t("legend_speed") }));
      for (const b of SPEEDS) {
        const bar = el("span", { class: "bar" });
        bar.style.background = b.color;
        box.append(el("div", { class: "row" }, [bar, t("kmh", { v: b.label })]));
      }
    }
  }

  function markerIcon(member) {
    const node = el("div", { class: `pm ${status(member)}`, "data-id": String(member.id) });
    node.append(el("div", { class: "dot" }));
    if (member.fix && typeof member.fix.heading === "number") {
      const arrow = el("div", { class: "arrow" });
      arrow.style.transform = `rotate(${member.fix.heading}deg)`;
      node.append(arrow);
    }
    node.append(el("div", { class: "label", text: member.name }));
    if (state.selected === member.id) node.classList.add("selected");
    return L.divIcon({ html: node, className: "", iconSize: [22, 22], iconAnchor: [11, 11] });
  }

  function drawMembers(members) {
    const seen = new Set();
    for (const m of members) {
      state.members.set(m.id, m);
      if (!m.fix) continue;
      seen.add(m.id);
      const at = [m.fix.lat, m.fix.lon];
      let marker = state.markers.get(m.id);
      if (!marker) {
        marker = L.marker(at, { icon: markerIcon(m), keyboard: true, title: m.name });
        // While a fence is drawn a tap on a member is a point of the fence, not their sheet.
        marker.on("click", (event) => (state.draw && state.draw.kind ? onMapClick(event) : select(m.id)));
        marker.addTo(map);
        state.markers.set(m.id, marker);
      } else {
        marker.setLatLng(at);
        marker.setIcon(markerIcon(m));
      }
    }
    for (const [id, marker] of state.markers) {
      if (!seen.has(id)) {
        marker.remove();
        state.markers.delete(id);
      }
    }
    if (state.firstMarkersMs === null && state.markers.size) state.firstMarkersMs = performance.now();
    if (!state.fitted && state.markers.size) {
      const bounds = L.latLngBounds([...state.markers.values()].map((mk) => mk.getLatLng()));
      map.fitBounds(bounds, { padding: [40, 40], maxZoom: 16 });
      state.fitted = true;
    }
    if (state.following !== null && state.markers.has(state.following)) {
      map.panTo(state.markers.get(state.following).getLatLng());
    }
    if (state.selected !== null) facts(state.members.get(state.selected));
  }

  function drawPresence(members) {
    const list = $("presence-list");
    list.replaceChildren();
    const sorted = [...members].sort((a, b) => Number(b.online) - Number(a.online));
    for (const m of sorted) {
      const s = m.online ? "online" : "offline";
      list.append(
        el("li", { "data-id": String(m.id) }, [
          el("span", { class: `swatch sw-${s}`, title: t(s) }),
          el("span", { text: m.name }),
          el("span", { class: "acct", text: `${m.account} · ${t(s)}` }),
        ])
      );
    }
    $("presence").hidden = false;
  }

  async function refresh() {
    clearTimeout(state.timer);
    state.timer = null;
    const target = state.target;
    if (!target) return;
    try {
      const answer = await api(`/app/api/positions?${target.kind}=${target.id}`);
      if (state.target !== target) return; // another target was opened meanwhile
      banner("");
      ensureOption(answer.target);
      if (answer.positions && map) drawMembers(answer.members);
      else drawPresence(answer.members);
      state.loads += 1;
      legend();
    } catch (e) {
      if (state.target !== target) return;
      banner(words(e));
      if (e.status === 401 || e.status === 403 || e.status === 404) return;
    }
    schedule();
  }

  function schedule() {
    clearTimeout(state.timer);
    state.timer = null;
    if (document.hidden || !state.target) return;
    state.timer = setTimeout(refresh, Math.max(2, state.me.map.refresh_s || 10) * 1000);
  }

  // -- the picker -------------------------------------------------------------------------

  async function picker() {
    const select = $("picker");
    // Selected and disabled: shown until a target is open, never chosen again.
    select.replaceChildren(el("option", { value: "", text: t("choose"), disabled: true, selected: true }));
    try {
      const answer = await api("/app/api/groups");
      const groups = el("optgroup", { label: t("groups") });
      for (const g of answer.groups || []) {
        groups.append(el("option", { value: `group:${g.id}`, text: `${g.name} (${g.members})` }));
      }
      select.append(groups);
      if ((answer.orgs || []).length) {
        const orgs = el("optgroup", { label: t("orgs") });
        for (const o of answer.orgs) orgs.append(el("option", { value: `org:${o.id}`, text: o.name }));
        select.append(orgs);
      }
    } catch (e) {
      banner(words(e));
    }
    select.addEventListener("change", () => {
      const [kind, id] = select.value.split(":");
      open({ kind, id: Number(id) });
    });
  }

  function ensureOption(target) {
    const select = $("picker");
    const value = `${target.kind}:${target.id}`;
    if (![...select.options].some((o) => o.value === value)) {
      select.append(el("option", { value, text: target.name }));
    }
    select.value = value;
  }

  function open(target) {
    state.target = target;
    state.fitted = false;
    for (const marker of state.markers.values()) marker.remove();
    state.markers.clear();
    state.members.clear();
    closeSheet();
    const url = new URL(location.href);
    for (const k of ["group", "user", "org"]) url.searchParams.delete(k);
    url.searchParams.set(target.kind, String(target.id));
    history.replaceState(null, "", url.toString());
    return refresh();
  }

  // -- a member's sheet -------------------------------------------------------------------

  function ago(iso) {
    const s = Math.max(0, Math.round((Date.now() - Date.parse(iso)) / 1000));
    if (s < 90) return t("ago_s", { v: s });
    if (s < 5400) return t("ago_m", { v: Math.round(s / 60) });
    if (s < 172800) return t("ago_h", { v: Math.round(s / 3600) });
    return t("ago_d", { v: Math.round(s / 86400) });
  }

  function clock(date) {
    // As the chat shows times: in the bridge's time zone, not the phone's.
    const options = { hour12: false, timeZone: (state.me && state.me.map.timezone) || undefined };
    try {
      return date.toLocaleTimeString(state.lang === "zh" ? "zh-CN" : "en-GB", options);
    } catch (_unknownZone) {
      return date.toLocaleTimeString(state.lang === "zh" ? "zh-CN" : "en-GB", { hour12: false });
    }
  }

  function facts(m) {
    if (!m) return;
    $("sheet-name").textContent = m.name;
    const rows = [
      [t("account"), m.account],
      [t("status"), t(status(m))],
    ];
    if (m.fix) {
      rows.push([t("fix_age"), t("fix_at", { time: clock(new Date(m.fix.at)), ago: ago(m.fix.at) })]);
      if (m.fix.speed_kmh != null) rows.push([t("speed"), t("kmh", { v: Math.round(m.fix.speed_kmh) })]);
      if (m.fix.heading != null) {
        const v = Math.round(m.fix.heading);
        const dir = t("compass").split(" ")[Math.round((((v % 360) + 360) % 360) / 45) % 8];
        rows.push([t("heading"), t("deg", { dir, v })]);
      }
      if (m.fix.altitude_m != null) rows.push([t("altitude"), t("metres", { v: Math.round(m.fix.altitude_m) })]);
    } else {
      rows.push([t("fix_age"), t("no_fix")]);
    }
    $("sheet-facts").replaceChildren(
      ...rows.flatMap(([k, v]) => [el("dt", { text: k }), el("dd", { text: String(v) })])
    );
  }

  function select(id) {
    const previous = state.selected;
    state.selected = id;
    for (const mid of [previous, id]) {
      const m = state.members.get(mid);
      const marker = state.markers.get(mid);
      if (m && marker) marker.setIcon(markerIcon(m));
    }
    if (previous !== id) clearTrack();
    $("rec-panel").hidden = true;
    $("track-panel").hidden = true;
    facts(state.members.get(id));
    const can = state.me.can;
    $("act-track").hidden = !can.tracks;
    $("act-recordings").hidden = !can.recordings;
    followButton();
    closeDraw();
    $("sheet").hidden = false;
  }

  function closeSheet() {
    const id = state.selected;
    state.selected = null;
    const m = state.members.get(id);
    const marker = state.markers.get(id);
    if (m && marker) marker.setIcon(markerIcon(m));
    clearTrack();
    stopAudio();
    $("sheet").hidden = true;
  }

  function followButton() {
    const b = $("act-follow");
    const on = state.following !== null && state.following === state.selected;
    b.textContent = on ? t("stop_follow") : t("follow");
    b.setAttribute("aria-pressed", String(on));
  }

  function toggleFollow() {
    const id = state.selected;
    if (state.following === id) {
      state.following = null;
    } else {
      state.following = id;
      const marker = state.markers.get(id);
      if (marker) map.panTo(marker.getLatLng());
    }
    followButton();
  }

  // -- a track ----------------------------------------------------------------------------

  function bucket(speed) {
    return SPEEDS.findIndex((b) => (speed || 0) < b.below);
  }

  function clearTrack() {
    if (!state.track) return;
    for (const layer of state.track.layers) layer.remove();
    state.track.dot.remove();
    state.track = null;
    legend();
  }

  async function showTrack() {
    const id = state.selected;
    const hours = Number($("track-hours").value);
    $("rec-panel").hidden = true;
    clearTrack();
    let answer;
    try {
      answer = await api(`/app/api/track?user=${id}&hours=${hours}`);
    } catch (e) {
      banner(words(e));
      return;
    }
    if (state.selected !== id) return;
    const points = answer.points || [];
    const panel = $("track-panel");
    panel.hidden = false;
    const slider = $("track-slider");
    if (!points.length) {
      $("track-summary").textContent = t("track_none", { h: hours });
      slider.hidden = true;
      $("track-at").textContent = "";
      return;
    }
    // Consecutive segments of one speed bucket make one polyline: few layers for 5,000 points.
    const layers = [];
    let run = [points[0]];
    let current = bucket(points[1] ? points[1][3] : points[0][3]);
    for (let i = 1; i < points.length; i++) {
      const b = bucket(points[i][3]);
      if (b !== current) {
        layers.push(L.polyline(run.map((p) => [p[0], p[1]]), { color: SPEEDS[current].color, weight: 5 }));
        run = [points[i - 1]];
        current = b;
      }
      run.push(points[i]);
    }
    layers.push(L.polyline(run.map((p) => [p[0], p[1]]), { color: SPEEDS[current].color, weight: 5 }));
    for (const layer of layers) layer.addTo(map);
    const dot = L.marker([points[0][0], points[0][1]], {
      icon: L.divIcon({ html: el("div", { class: "track-dot" }), className: "", iconSize: [16, 16], iconAnchor: [8, 8] }),
      interactive: false,
      zIndexOffset: 1000,
    }).addTo(map);
    state.track = { points, layers, dot };
    const s = answer.summary || {};
    $("track-summary").textContent = t("track_summary", {
      h: hours,
      points: s.points ?? points.length,
      km: (s.km ?? 0).toFixed(1),
      max: Math.round(s.max_kmh ?? 0),
    });
    slider.hidden = false;
    slider.min = "0";
    slider.max = String(points.length - 1);
    slider.value = String(points.length - 1);
    legend();
    map.fitBounds(L.latLngBounds(points.map((p) => [p[0], p[1]])), Object.assign({ maxZoom: 17, animate: false }, clear()));
    moveAlong();
    state.following = null;
    followButton();
  }

  // What the open sheet covers at the bottom of the map: kept clear when fitting or panning.
  function clear() {
    const sheet = $("sheet");
    const below = sheet.hidden ? 0 : sheet.offsetHeight;
    return { paddingTopLeft: [30, 30], paddingBottomRight: [30, below + 30] };
  }

  function moveAlong() {
    if (!state.track) return;
    const p = state.track.points[Number($("track-slider").value)];
    if (!p) return;
    state.track.dot.setLatLng([p[0], p[1]]);
    map.panInside([p[0], p[1]], clear());
    $("track-at").textContent = t("track_at", {
      time: clock(new Date(p[2] * 1000)),
      speed: t("kmh", { v: Math.round(p[3] || 0) }),
    });
  }

  // -- recordings -------------------------------------------------------------------------

  function stopAudio() {
    const audio = $("rec-audio");
    audio.pause();
    if (audio.src) URL.revokeObjectURL(audio.src);
    audio.removeAttribute("src");
    audio.load();
  }

  async function showRecordings() {
    const id = state.selected;
    $("track-panel").hidden = true;
    clearTrack();
    let answer;
    try {
      answer = await api(`/app/api/recordings?user=${id}`);
    } catch (e) {
      banner(words(e));
      return;
    }
    if (state.selected !== id) return;
    const list = $("rec-list");
    list.replaceChildren();
    const recordings = answer.recordings || [];
    if (!recordings.length) list.append(el("li", { text: t("rec_none") }));
    for (const r of recordings) {
      const button = el("button", {
        type: "button",
        text: t("rec_item", { time: clock(new Date(r.begin)), seconds: Math.round(r.seconds), group: r.group || "" }),
        "data-id": String(r.id),
      });
      button.addEventListener("click", () => play(r, button));
      list.append(el("li", {}, [button]));
    }
    $("rec-panel").hidden = false;
  }

  async function play(recording, button) {
    for (const b of $("rec-list").querySelectorAll("button")) b.classList.remove("playing");
    button.classList.add("playing");
    stopAudio();
    let blob;
    try {
      // An <audio src> cannot send the Authorization header: fetch, then play a blob.
      const response = await api(recording.audio, { raw: true });
      blob = await response.blob();
    } catch (e) {
      banner(words(e));
      return;
    }
    const audio = $("rec-audio");
    audio.src = URL.createObjectURL(blob);
    audio.play().catch(() => {
      /* autoplay refused: the controls are there */
    });
  }

  // -- fences -----------------------------------------------------------------------------

  function fenceLayer(f) {
    const style = { color: "#7b1fa2", weight: 2, fillOpacity: 0.1 };
    const layer =
      f.kind === "polygon" && f.points
        ? L.polygon(f.points, style)
        : L.circle([f.lat, f.lon], Object.assign({ radius: f.radius_m }, style));
    layer.bindTooltip(el("span", { class: "fence-label", text: f.name }), {
      permanent: true,
      direction: "center",
      className: "fence-tooltip",
      pane: "fenceLabels",
    });
    const body = el("div", {}, [el("strong", { text: f.name })]);
    if (state.me.can.draw_fences) {
      const del = el("button", { type: "button", text: t("delete"), class: "fence-delete" });
      del.addEventListener("click", () => deleteFence(f.id));
      body.append(el("div", {}, [del]));
    }
    layer.bindPopup(body);
    return layer;
  }

  function addFence(f) {
    const old = state.fences.get(f.id);
    if (old) old.layer.remove();
    const layer = fenceLayer(f).addTo(map);
    state.fences.set(f.id, { fence: f, layer });
  }

  async function loadFences() {
    try {
      const answer = await api("/app/api/fences");
      for (const f of answer.fences || []) addFence(f);
    } catch (e) {
      banner(words(e));
    }
  }

  async function deleteFence(id) {
    try {
      await api(`/app/api/fences/${id}`, { method: "DELETE" });
    } catch (e) {
      banner(words(e));
      return;
    }
    const entry = state.fences.get(id);
    if (entry) entry.layer.remove();
    state.fences.delete(id);
    map.closePopup();
  }

  // -- drawing a fence --------------------------------------------------------------------

  function startDraw() {
    closeSheet();
    state.draw = { kind: null, centre: null, points: [], preview: null };
    $("draw-kinds").hidden = false;
    $("draw-hint").textContent = "";
    $("draw-radius-row").hidden = true;
    $("draw-done").hidden = true;
    $("draw-save-row").hidden = true;
    $("draw-error").textContent = "";
    $("draw-name").value = "";
    $("draw").hidden = false;
  }

  function closeDraw() {
    if (state.draw && state.draw.preview) state.draw.preview.remove();
    state.draw = null;
    $("draw").hidden = true;
  }

  function drawKind(kind) {
    const d = state.draw;
    if (d.preview) d.preview.remove();
    Object.assign(d, { kind, centre: null, points: [], preview: null });
    $("draw-kinds").hidden = true;
    $("draw-hint").textContent = kind === "circle" ? t("hint_circle") : t("hint_polygon");
    $("draw-done").hidden = kind !== "polygon";
    $("draw-save-row").hidden = true;
    $("draw-radius-row").hidden = true;
  }

  function radius() {
    const v = Number($("draw-radius").value);
    $("draw-radius-label").textContent = t("radius", { v });
    return v;
  }

  function onMapClick(event) {
    const d = state.draw;
    if (!d || !d.kind) return;
    const at = [event.latlng.lat, event.latlng.lng];
    const style = { color: "#7b1fa2", weight: 2, dashArray: "6 4", fillOpacity: 0.15 };
    if (d.kind === "circle") {
      d.centre = at;
      if (d.preview) d.preview.remove();
      d.preview = L.circle(at, Object.assign({ radius: radius() }, style)).addTo(map);
      $("draw-radius-row").hidden = false;
      $("draw-save-row").hidden = false;
    } else if ($("draw-save-row").hidden) {
      d.points.push(at);
      if (d.preview) d.preview.remove();
      d.preview = (d.points.length > 2 ? L.polygon(d.points, style) : L.polyline(d.points, style)).addTo(map);
    }
  }

  function polygonDone() {
    if (state.draw.points.length < 3) {
      $("draw-error").textContent = t("polygon_short");
      return;
    }
    $("draw-error").textContent = "";
    $("draw-done").hidden = true;
    $("draw-save-row").hidden = false;
    $("draw-name").focus();
  }

  async function saveFence() {
    const d = state.draw;
    const name = $("draw-name").value.trim();
    if (!name) {
      $("draw-error").textContent = t("name_missing");
      return;
    }
    const body =
      d.kind === "circle"
        ? { name, circle: { lat: d.centre[0], lon: d.centre[1], radius_m: radius() } }
        : { name, polygon: d.points };
    let answer;
    try {
      answer = await api("/app/api/fences", {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify(body),
      });
    } catch (e) {
      $("draw-error").textContent = words(e);
      return;
    }
    addFence(answer.fence);
    closeDraw();
  }

  // -- start ------------------------------------------------------------------------------

  function wire() {
    $("sheet-close").addEventListener("click", closeSheet);
    $("act-track").addEventListener("click", showTrack);
    $("act-recordings").addEventListener("click", showRecordings);
    $("act-follow").addEventListener("click", toggleFollow);
    $("track-slider").addEventListener("input", moveAlong);
    $("track-hours").addEventListener("change", showTrack);
    $("fence-add").addEventListener("click", startDraw);
    $("draw-close").addEventListener("click", closeDraw);
    $("draw-circle").addEventListener("click", () => drawKind("circle"));
    $("draw-polygon").addEventListener("click", () => drawKind("polygon"));
    $("draw-done").addEventListener("click", polygonDone);
    $("draw-save").addEventListener("click", saveFence);
    $("draw-radius").addEventListener("input", () => {
      const d = state.draw;
      if (d && d.preview && d.kind === "circle") d.preview.setRadius(radius());
    });
    document.addEventListener("visibilitychange", () => {
      if (document.hidden) {
        clearTimeout(state.timer);
        state.timer = null;
      } else if (state.target && state.me) {
        refresh();
      }
    });
  }

  async function start() {
    const params = launch();
    applyTheme(params.theme);
    setLanguage(params.hint || navigator.language);
    wire();
    if (!params.initData) {
      banner(t("no_init"));
      return;
    }
    state.auth = params.initData;
    try {
      state.me = await api("/app/api/me");
    } catch (e) {
      banner(words(e, "me"));
      return;
    }
    setLanguage(state.me.language);
    // A viewer sees presence only: the list takes the whole page, no map is drawn.
    if (state.me.can.positions) makeMap();
    else document.body.classList.add("presence-only");
    $("fence-add").hidden = !state.me.can.draw_fences;
    await picker();
    if (state.me.can.fences) loadFences();
    const start = params.target || state.me.start;
    if (start) await open({ kind: start.kind, id: start.id });
  }

  // For tests and the console: what is on the map, in the tiles' coordinates.
  window.pttmap = {
    markers: () =>
      [...state.markers.entries()].map(([id, mk]) => ({
        id,
        lat: mk.getLatLng().lat,
        lng: mk.getLatLng().lng,
        status: status(state.members.get(id)),
      })),
    trackDot: () => (state.track ? state.track.dot.getLatLng() : null),
    trackPoints: () => (state.track ? state.track.points.length : 0),
    fences: () => [...state.fences.values()].map((f) => f.fence),
    loads: () => state.loads,
    polling: () => state.timer !== null,
    firstMarkersMs: () => state.firstMarkersMs,
    following: () => state.following,
    latLngToPoint: (lat, lng) => {
      const p = map.latLngToContainerPoint([lat, lng]);
      const r = $("map").getBoundingClientRect();
      return { x: p.x + r.left, y: p.y + r.top };
    },
    pointToLatLng: (x, y) => {
      const r = $("map").getBoundingClientRect();
      return map.containerPointToLatLng([x - r.left, y - r.top]);
    },
    center: () => map.getCenter(),
  };

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
