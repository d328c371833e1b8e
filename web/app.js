// Lantian web console: token login, violation list, map, violation detail with review, vehicle
// page. Plain ES2020, no build step. It talks only to the lantiand API it is served from
// (/api/v1/…, bearer token) and draws with the vendored Leaflet: vector layers over the imported
// administrative areas, so it works on an isolated network, and a tile layer only when the server
// names one (GET /api/v1/map).
//
// Safety rule for this file: data from the API reaches the DOM only through textContent (the el()
// helper below, or DOM nodes given to Leaflet tooltips), never through innerHTML; the one string
// Leaflet inserts as HTML, the tile attribution, is escaped first (htmlText).
'use strict';

(() => {
  // --- labels ------------------------------------------------------------------------------------

  const TOKEN_KEY = 'lantian.token';

  const RULES = {
    R01: '国三及以下柴油货车淘汰后上路',
    R02: '限行区内违规通行',
    R03: '禁用区内高排放机械作业',
    R04: '车载烟度（不透光度）超标',
    R05: '外部检测冒黑烟',
    R06: '发动机运行时定位无效',
    R07: 'NOx 超标或 SCR 转化率低',
    R08: '故障指示灯持续点亮',
    R09: '尿素（反应剂）耗尽仍运行',
    R10: '疑似篡改',
    R11: '终端离线或数据缺失',
    R12: '数据质量异常',
    R13: '禁用区内未登记机械作业',
    R14: '重污染预警期间违规放行车辆',
    R15: '企业门禁系统数据中断',
    R16: '申报排放阶段与登记不符',
  };
  const ALERT_LEVELS = { yellow: '黄色', orange: '橙色', red: '红色' };
  const DETAILS = {
    enterprise: '企业', gate: '门禁', direction: '方向', image_ref: '门禁照片', alert_id: '预警编号',
    alert_level: '预警级别', grade: '绩效等级', oldest_allowed: '允许最老排放阶段',
    declared_stage: '申报排放阶段', registry_stage: '登记排放阶段',
  };
  const STATUS = { open: '待审核', confirmed: '已确认', dismissed: '已驳回' };
  const SEVERITY = { high: '高', medium: '中', low: '低' };
  const ROLES = {
    police: '执法人员', reviewer: '审核人员', operator: '运维人员', admin: '系统管理员', gate: '企业门禁系统',
  };
  const ZONE_KINDS = {
    truck_restriction: '货车限行区',
    nrmm_ban: '非道路机械禁用区',
    exempt_corridor: '豁免通道',
  };
  const ZONE_COLORS = { truck_restriction: '#d9480f', nrmm_ban: '#7048e8', exempt_corridor: '#2b8a3e' };
  const STAGE_SOURCES = { registry: '登记', inferred: '推断', declared: '随车清单申报' };
  const PLATE_COLORS = { yellow: '黄牌', blue: '蓝牌', green: '绿牌', white: '白牌', black: '黑牌' };
  const FUELS = { diesel: '柴油', gas: '燃气', lng: 'LNG', cng: 'CNG', gasoline: '汽油' };
  const MACHINES = {
    excavator: '挖掘机', loader: '装载机', forklift: '叉车', roller: '压路机',
    crane: '起重机', bulldozer: '推土机', grader: '平地机', paver: '摊铺机',
  };
  // The `thresholds` of a violation (limits, and for some rules the measured value beside them).
  const THRESHOLDS = {
    ringelmann_limit: '林格曼黑度限值（级）',
    k_limit_m1: '光吸收系数限值（m⁻¹）',
    smoke_class: '烟度限值类别（1=I 类，2=II 类，3=III 类）',
    phase_out_unix_s: '淘汰日期',
    consecutive_fixes: '连续定位次数',
    buffer_m: '区域缓冲距离（米）',
    min_rpm: '最低发动机转速（rpm）',
    consecutive: '连续次数',
    min_coolant_c: '最低冷却液温度（°C）',
    invalid_for_s: '定位无效持续（秒）',
    mean_limit_ppm: 'NOx 均值限值（ppm）',
    window_s: '统计窗口（秒）',
    mean_ppm: 'NOx 均值（ppm）',
    min_conversion: 'SCR 最低转化率',
    low_conversion_s: '低转化率累计（秒）',
    empty_pct: '尿素液位下限（%）',
    empty_for_s: '液位过低持续（秒）',
    flat_for_s: 'NOx 恒定持续（秒）',
    nox_ppm: 'NOx 读数（ppm）',
    gap_s: '数据缺失下限（秒）',
    fill_within_s: '补传期限（秒）',
    gap_length_s: '缺失时长（秒）',
    offline_s: '离线下限（秒）',
    future_s: '时间超前上限（秒）',
    max_speed_kmh: '速度上限（km/h）',
    implied_speed_kmh: '推算速度（km/h）',
  };
  const CITIES = ['郑州', '开封', '洛阳', '平顶山', '安阳', '鹤壁', '新乡', '焦作', '濮阳', '许昌',
    '漯河', '三门峡', '南阳', '商丘', '信阳', '周口', '驻马店', '济源'];
  const HTTP_NAMES = {
    0: '网络错误', 400: '参数错误', 401: '未授权', 403: '无权限', 404: '未找到', 405: '方法不允许',
    409: '冲突', 413: '请求过大', 429: '请求过于频繁', 500: '服务器错误',
  };

  // --- small helpers -----------------------------------------------------------------------------

  const $ = (id) => document.getElementById(id);

  // Creates an element. props: class, text (textContent), dataset, on<event> handlers, attributes.
  // Children are nodes or strings (strings become text nodes, never markup).
  function el(tag, props = {}, ...children) {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(props)) {
      if (value === null || value === undefined || value === false) continue;
      if (key === 'class') node.className = value;
      else if (key === 'text') node.textContent = String(value);
      else if (key === 'dataset') Object.assign(node.dataset, value);
      else if (key.startsWith('on')) node.addEventListener(key.slice(2), value);
      else node.setAttribute(key, value === true ? '' : String(value));
    }
    for (const child of children.flat(Infinity)) {
      if (child === null || child === undefined || child === false) continue;
      node.append(child instanceof Node ? child : String(child));
    }
    return node;
  }

  const dash = (v) => (v === null || v === undefined || v === '' ? '—' : String(v));

  // All times are shown in Beijing time, whatever the browser's time zone.
  const BEIJING_MS = 8 * 3600 * 1000;
  function fmtMs(ms) {
    if (ms === null || ms === undefined || !Number.isFinite(Number(ms))) return '—';
    return new Date(Number(ms) + BEIJING_MS).toISOString().slice(0, 19).replace('T', ' ');
  }
  function fmtIso(text) {
    if (!text) return '—';
    const t = Date.parse(text);
    return Number.isNaN(t) ? String(text) : fmtMs(t);
  }
  const beijingDate = (ms) => new Date(ms + BEIJING_MS).toISOString().slice(0, 10);
  const isoDate = (text) => (text && /^\d{4}-\d{2}-\d{2}/.test(text) ? text.slice(0, 10) : null);
  const fmtCoord = (lon, lat) =>
    (typeof lon === 'number' && typeof lat === 'number' ? `${lon.toFixed(5)}, ${lat.toFixed(5)}` : '—');
  const ruleLabel = (rule) => (RULES[rule] ? `${rule} ${RULES[rule]}` : dash(rule));

  function categoryLabel(category) {
    if (!category) return '—';
    if (category.startsWith('nrmm:')) {
      const kind = category.slice(5);
      return `非道路移动机械 · ${MACHINES[kind] || kind}`;
    }
    return category;
  }

  // --- the API -----------------------------------------------------------------------------------

  class ApiError extends Error {
    constructor(status, code, message, parameter) {
      super(message);
      this.status = status;
      this.code = code;
      this.parameter = parameter;
    }
  }

  const state = {
    token: null,
    me: null,
    filters: {},      // query parameters of the listing shown
    limit: 50,
    pages: [null],    // pages[i]: the cursor that loads page i (null: the first page)
    pageIndex: 0,
    items: [],        // the violations of the page shown
    detail: null,     // the violation detail shown
    vehicle: null,    // the vehicle shown
  };

  // fetch with the bearer token; a non-2xx answer becomes an ApiError carrying error.message.
  async function api(path, { method = 'GET', body } = {}) {
    const headers = { Authorization: `Bearer ${state.token}` };
    if (body !== undefined) headers['Content-Type'] = 'application/json';
    let response;
    try {
      response = await fetch(path, {
        method,
        headers,
        body: body === undefined ? undefined : JSON.stringify(body),
        cache: 'no-store',
      });
    } catch (e) {
      throw new ApiError(0, 'network', `无法连接服务器：${e.message}`);
    }
    if (response.ok) return response;
    let code = `http_${response.status}`;
    let message = `${response.status} ${response.statusText}`;
    let parameter;
    try {
      const payload = await response.json();
      if (payload && payload.error) {
        code = payload.error.code || code;
        message = payload.error.message || message;
        parameter = payload.error.parameter;
      }
    } catch (_) { /* not JSON: keep the status line */ }
    const retry = response.headers.get('Retry-After');
    if (response.status === 429 && retry) message += `（请 ${retry} 秒后重试）`;
    throw new ApiError(response.status, code, message, parameter);
  }

  async function apiJson(path, options) {
    const response = await api(path, options);
    return response.status === 204 ? null : response.json();
  }

  // --- errors ------------------------------------------------------------------------------------

  function describeError(error) {
    if (error instanceof ApiError) {
      const name = HTTP_NAMES[error.status] || `HTTP ${error.status}`;
      return `${name}（${error.status ? `${error.status} ` : ''}${error.code}）：${error.message}`;
    }
    return `出错了：${error && error.message ? error.message : String(error)}`;
  }

  function showError(error) {
    console.error(error);
    // A token that stopped working (revoked, expired) sends the user back to the login screen.
    if (error instanceof ApiError && error.status === 401 && state.me) {
      logout(describeError(error));
      return;
    }
    $('error-text').textContent = describeError(error);
    $('error-banner').hidden = false;
  }

  function hideError() {
    $('error-banner').hidden = true;
    $('error-text').textContent = '';
  }

  // Runs an async user action, reporting any error in the banner.
  function action(fn) {
    return async (event) => {
      if (event && event.preventDefault) event.preventDefault();
      hideError();
      try {
        await fn(event);
      } catch (error) {
        showError(error);
      }
    };
  }

  // --- login -------------------------------------------------------------------------------------

  async function login(secret) {
    const loginError = $('login-error');
    loginError.hidden = true;
    const token = secret.trim().replace(/^Bearer\s+/i, '');
    if (!token) {
      loginError.textContent = '请输入访问令牌。';
      loginError.hidden = false;
      return;
    }
    state.token = token;
    $('login-button').disabled = true;
    try {
      const me = await apiJson('/api/v1/me');
      sessionStorage.setItem(TOKEN_KEY, token);
      $('token-input').value = '';
      await enterApp(me);
    } catch (error) {
      state.token = null;
      state.me = null;
      sessionStorage.removeItem(TOKEN_KEY);
      loginError.textContent = describeError(error);
      loginError.hidden = false;
    } finally {
      $('login-button').disabled = false;
    }
  }

  // --- live feed --------------------------------------------------------------------------------
  // New violations arrive as Server-Sent Events from /api/v1/violations/feed. EventSource cannot
  // send the bearer token, so the stream is read with fetch; it reconnects after a pause when the
  // connection drops, and stops on logout.
  const feed = { controller: null, fresh: 0 };

  function showFeed(text) {
    const button = $('live-feed');
    button.hidden = false;
    button.textContent = text;
  }

  async function runFeed() {
    const controller = new AbortController();
    feed.controller = controller;
    feed.fresh = 0;
    while (!controller.signal.aborted) {
      try {
        const response = await fetch('/api/v1/violations/feed', {
          headers: { Authorization: `Bearer ${state.token}`, Accept: 'text/event-stream' },
          signal: controller.signal,
          cache: 'no-store',
        });
        if (!response.ok) {
          showFeed('实时：不可用');
          return;
        }
        showFeed(feed.fresh ? `实时：新违规 ${feed.fresh} 条，点击刷新` : '实时：已连接');
        const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
        let buffer = '';
        for (;;) {
          const { value, done } = await reader.read();
          if (done) break;
          buffer += value;
          let end;
          while ((end = buffer.indexOf('\n\n')) >= 0) {
            const event = buffer.slice(0, end);
            buffer = buffer.slice(end + 2);
            if (event.split('\n').some((line) => line === 'event: violation')) {
              feed.fresh += 1;
              showFeed(`实时：新违规 ${feed.fresh} 条，点击刷新`);
            }
          }
        }
      } catch (e) {
        if (controller.signal.aborted) return;
      }
      showFeed('实时：重新连接中');
      await new Promise((resolve) => setTimeout(resolve, 5000));
    }
  }

  function stopFeed() {
    if (feed.controller) feed.controller.abort();
    feed.controller = null;
    $('live-feed').hidden = true;
  }

  function logout(message) {
    stopFeed();
    sessionStorage.removeItem(TOKEN_KEY);
    state.token = null;
    state.me = null;
    state.items = [];
    state.detail = null;
    state.vehicle = null;
    hideError();
    $('app-view').hidden = true;
    $('main-nav').hidden = true;
    $('session-info').hidden = true;
    $('login-view').hidden = false;
    $('violations-table').tBodies[0].replaceChildren();
    $('violation-detail').hidden = true;
    enterprises.loaded = false;
    enterprises.selected = null;
    $('enterprise-table').tBodies[0].replaceChildren();
    $('enterprise-detail').hidden = true;
    $('vehicle-detail').hidden = true;
    $('vehicle-results').replaceChildren();
    clearMap();
    const loginError = $('login-error');
    loginError.textContent = message || '';
    loginError.hidden = !message;
    $('token-input').focus();
  }

  const canReadViolations = () => state.me && ['police', 'reviewer'].includes(state.me.role);
  const canReadVehicles = () => state.me && ['police', 'reviewer', 'operator'].includes(state.me.role);

  async function enterApp(me) {
    state.me = me;
    $('login-view').hidden = true;
    $('app-view').hidden = false;
    $('session-info').hidden = false;
    $('main-nav').hidden = false;
    const role = $('user-role');
    role.textContent = ROLES[me.role] || me.role;
    role.dataset.role = me.role;
    const scope = [...(me.cities || []), ...(me.zones || [])];
    $('user-label').textContent =
      `${me.label || me.id}（${scope.length ? `辖区：${scope.join('、')}` : '全省'}）`;

    $('tab-violations').hidden = !canReadViolations();
    $('tab-vehicle').hidden = !canReadVehicles();
    $('tab-enterprises').hidden = !canReadVehicles();  // enterprises, alerts, statistics
    $('enterprise-r14-block').hidden = !canReadViolations();
    $('right-pane').hidden = !canReadVehicles();  // zones: police, reviewer, operator
    $('track-controls').hidden = !canReadViolations();  // tracks: police, reviewer
    $('tab-sharing').hidden = me.role !== 'admin';
    if (me.role === 'admin') {
      // Admins see the enforcement systems' deliveries; tokens and the audit log are API-only.
      switchView('sharing');
      await loadSubscribers().catch(showError);
      return;
    }
    if (!canReadVehicles()) {
      switchView('none');
      $('no-access-text').textContent = '此令牌只能通过 API 写入门禁记录，控制台不提供相应功能。';
      return;
    }
    await initMap();
    switchView(canReadViolations() ? 'violations' : 'vehicle');
    const loads = [loadAreas(), loadZones()];
    if (canReadViolations()) {
      loads.push(search());
      runFeed();  // runs until logout
    }
    // Each load reports its own error; one failing does not stop the other.
    await Promise.all(loads.map((p) => p.catch(showError)));
  }

  function switchView(view) {
    $('violations-view').hidden = view !== 'violations';
    $('vehicle-view').hidden = view !== 'vehicle';
    $('enterprises-view').hidden = view !== 'enterprises';
    $('sharing-view').hidden = view !== 'sharing';
    $('no-access').hidden = view !== 'none';
    for (const tab of document.querySelectorAll('#main-nav .tab'))
      tab.classList.toggle('active', tab.dataset.view === view);
    if (mapState.map) setTimeout(() => mapState.map.invalidateSize(), 0);
  }

  // --- violation sharing (admins) ------------------------------------------------------------------

  async function loadSubscribers() {
    const table = $('subscriber-table');
    table.dataset.state = 'loading';
    const { items } = await apiJson('/api/v1/subscribers');
    const body = table.querySelector('tbody');
    body.replaceChildren(...items.map((s) => {
      const d = s.delivery || {};
      const reach = [
        s.cities.length ? s.cities.join('、') : '全部城市',
        s.rules.length ? s.rules.join('、') : '全部规则',
        `${SEVERITY[s.min_severity] || s.min_severity}及以上`,
      ].join('；');
      return el('tr', { dataset: { id: s.id } },
        el('td', { text: s.name }),
        el('td', { text: s.url }),
        el('td', { text: reach }),
        el('td', { text: dash(d.delivered) }),
        el('td', { text: dash(d.pending) }),
        el('td', { text: dash(d.failed_attempts) }),
        el('td', { text: d.last_success_unix_ms ? fmtMs(d.last_success_unix_ms) : '—' }),
        el('td', { text: dash(d.last_error) }),
        el('td', { text: s.disabled ? '已停用' : '启用' }));
    }));
    table.dataset.state = items.length ? 'ready' : 'empty';
  }

  // --- the map -----------------------------------------------------------------------------------
  // Layers, bottom to top: the tile layer (when one is configured), administrative areas with their
  // names, zones, a vehicle's track, violation points, the violation shown in detail. Areas and
  // their labels have panes of their own below the overlay pane, where the other vector layers share
  // one SVG and keep their order with bringToBack/Front.

  const mapState = {
    map: null, settings: null, areas: null, zones: null, violations: null, track: null, detail: null,
    markers: new Map(), tileErrors: 0,
  };
  // From this zoom on county names replace the names of the cities whose counties are loaded.
  const COUNTY_LABEL_ZOOM = 9;

  // WGS-84 → GCJ-02, the public formula (Krasovsky ellipsoid); outside China's rough bounding box
  // the two coincide. The server keeps everything in WGS-84 (rules/geo.cpp converts uploads the
  // other way).
  function wgs84ToGcj02(lat, lon) {
    if (lon < 72.004 || lon > 137.8347 || lat < 0.8293 || lat > 55.8271) return [lat, lon];
    const a = 6378245.0;
    const ee = 0.00669342162296594323;
    const x = lon - 105.0;
    const y = lat - 35.0;
    const PI = Math.PI;
    let dLat = -100.0 + 2.0 * x + 3.0 * y + 0.2 * y * y + 0.1 * x * y + 0.2 * Math.sqrt(Math.abs(x));
    dLat += ((20.0 * Math.sin(6.0 * x * PI) + 20.0 * Math.sin(2.0 * x * PI)) * 2.0) / 3.0;
    dLat += ((20.0 * Math.sin(y * PI) + 40.0 * Math.sin((y / 3.0) * PI)) * 2.0) / 3.0;
    dLat += ((160.0 * Math.sin((y / 12.0) * PI) + 320.0 * Math.sin((y * PI) / 30.0)) * 2.0) / 3.0;
    let dLon = 300.0 + x + 2.0 * y + 0.1 * x * x + 0.1 * x * y + 0.1 * Math.sqrt(Math.abs(x));
    dLon += ((20.0 * Math.sin(6.0 * x * PI) + 20.0 * Math.sin(2.0 * x * PI)) * 2.0) / 3.0;
    dLon += ((20.0 * Math.sin(x * PI) + 40.0 * Math.sin((x / 3.0) * PI)) * 2.0) / 3.0;
    dLon += ((150.0 * Math.sin((x / 12.0) * PI) + 300.0 * Math.sin((x / 30.0) * PI)) * 2.0) / 3.0;
    const radLat = (lat / 180.0) * PI;
    const magic = 1 - ee * Math.sin(radLat) * Math.sin(radLat);
    const sqrtMagic = Math.sqrt(magic);
    dLat = (dLat * 180.0) / (((a * (1 - ee)) / (magic * sqrtMagic)) * PI);
    dLon = (dLon * 180.0) / ((a / sqrtMagic) * Math.cos(radLat) * PI);
    return [lat + dLat, lon + dLon];
  }

  // The one place where an API position (WGS-84) becomes a position on the map: tiles in GCJ-02
  // (高德, 腾讯 and most Chinese commercial maps) are offset from WGS-84 by several hundred metres,
  // so everything drawn over them is shifted the same way. Offline and over 天地图 (CGCS2000, within
  // centimetres of WGS-84) positions are drawn as they are.
  function toMapLatLng(lat, lon) {
    const tiles = mapState.settings && mapState.settings.tiles;
    return L.latLng(tiles && tiles.crs === 'gcj02' ? wgs84ToGcj02(lat, lon) : [lat, lon]);
  }
  const geoJsonToMap = (coords) => toMapLatLng(coords[1], coords[0]);

  // Leaflet writes attributions as HTML; the text from the server is shown as text.
  const htmlText = (text) => String(text).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

  // GET /map: the tile layer, or none (offline). A server without the endpoint, or one that does
  // not answer it, leaves the map offline: the vector layers are drawn either way.
  async function loadMapSettings() {
    try {
      const settings = await apiJson('/api/v1/map');
      const tiles = settings && settings.tiles;
      return { tiles: tiles && typeof tiles.url === 'string' && tiles.url ? tiles : null };
    } catch (error) {
      if (error instanceof ApiError && error.status === 401) throw error;
      console.warn('map settings unavailable, drawing without tiles', error);
      return { tiles: null };
    }
  }

  function addTiles(map, tiles) {
    const maxZoom = Number.isInteger(tiles.max_zoom) && tiles.max_zoom > 0 ? tiles.max_zoom : 18;
    const options = { maxZoom, className: 'map-tiles' };
    if (typeof tiles.subdomains === 'string' && tiles.subdomains) options.subdomains = tiles.subdomains;
    const note = $('map-note');
    const base = L.tileLayer(tiles.url, {
      ...options,
      attribution: tiles.attribution ? htmlText(tiles.attribution) : '',
    });
    // An unreachable tile server costs only the background: the vector layers are drawn regardless.
    base.on('tileerror', () => {
      mapState.tileErrors += 1;
      $('map').dataset.tileErrors = String(mapState.tileErrors);
      note.textContent = '底图服务暂不可用，仅显示行政区划与区域轮廓。';
    });
    base.addTo(map);
    if (typeof tiles.overlay_url === 'string' && tiles.overlay_url)
      L.tileLayer(tiles.overlay_url, { ...options, className: 'map-tiles-overlay' }).addTo(map);
    map.setMaxZoom(maxZoom);
    note.textContent = tiles.crs === 'gcj02'
      ? '底图为 GCJ-02 坐标；行政区划、区域、违规点与轨迹已由 WGS-84 换算后叠加。'
      : '行政区划与区域轮廓叠加在底图上（WGS-84）。';
  }

  async function initMap() {
    if (mapState.map) {
      mapState.map.invalidateSize();
      return;
    }
    const settings = await loadMapSettings();
    if (mapState.map) return;  // a second login while the settings were loading
    mapState.settings = settings;
    const map = L.map('map', { minZoom: 5, maxZoom: 17, zoomSnap: 0.5 });
    map.attributionControl.setPrefix('Leaflet');
    map.createPane('areas').style.zIndex = 350;  // above the tiles (200), below the vectors (400)
    const labels = map.createPane('areaLabels');
    labels.style.zIndex = 390;  // names stay under the zones and the violation points
    labels.style.pointerEvents = 'none';
    mapState.map = map;
    // The map object, for inspection from the browser's developer tools (and the browser test).
    window.__lantianMap = map;
    $('map').dataset.tiles = settings.tiles ? (settings.tiles.crs === 'gcj02' ? 'gcj02' : 'wgs84') : 'none';
    if (settings.tiles) addTiles(map, settings.tiles);
    map.setView(toMapLatLng(33.9, 113.5), 7);  // Henan
    mapState.areas = L.featureGroup().addTo(map);
    mapState.zones = L.featureGroup().addTo(map);
    mapState.track = L.featureGroup().addTo(map);
    mapState.violations = L.featureGroup().addTo(map);
    mapState.detail = L.featureGroup().addTo(map);
    map.on('zoomend', showAreaLabels);
    showAreaLabels();
  }

  function clearMap() {
    if (!mapState.map) return;
    for (const group of [mapState.areas, mapState.zones, mapState.track, mapState.violations, mapState.detail])
      group.clearLayers();
    mapState.markers.clear();
  }

  // Keeps zones at the bottom of the overlay pane and the selection on top.
  function restack() {
    mapState.zones.bringToBack();
    mapState.violations.bringToFront();
    mapState.detail.bringToFront();
  }

  // Tooltip contents are DOM nodes, so that zone names and plates are never parsed as HTML.
  function tooltip(...lines) {
    return el('div', { class: 'map-tip' }, lines.filter(Boolean).map((line) => el('div', { text: line })));
  }

  // City names at low zoom; zoomed in, the county names, and the city's own name only where no
  // county of it is loaded. Labels are hidden with visibility (not display) so that Leaflet can
  // still measure them to centre them.
  function showAreaLabels() {
    const container = mapState.map.getContainer();
    container.classList.toggle('show-counties', mapState.map.getZoom() >= COUNTY_LABEL_ZOOM);
  }

  // GET /areas: the imported city and county outlines, drawn with their names beneath everything
  // else, so that a point can be placed without a tile server. Roles that may not read them, and a
  // server without the endpoint, get a map without areas.
  async function loadAreas() {
    let collection;
    try {
      collection = await apiJson('/api/v1/areas');
    } catch (error) {
      if (error instanceof ApiError && (error.status === 403 || error.status === 404)) collection = null;
      else throw error;
    }
    mapState.areas.clearLayers();
    const features = (collection && collection.features) || [];
    const level = (f) => (f.properties && f.properties.level) || '';
    // Cities first, so that county outlines are drawn over them.
    const ordered = [...features.filter((f) => level(f) !== 'county'), ...features.filter((f) => level(f) === 'county')];
    // The cities whose counties are loaded: by the city a county belongs to (`city`, the short
    // name violations are filed under, 郑州) and by adcode prefix (410122 → 4101).
    const citiesWithCounties = new Set();
    const cityKeys = (p) => [p.city, p.adcode && `adcode:${String(p.adcode).slice(0, 4)}`].filter(Boolean);
    for (const f of features)
      if (level(f) === 'county') for (const key of cityKeys(f.properties)) citiesWithCounties.add(key);
    const tiled = Boolean(mapState.settings.tiles);
    for (const feature of ordered) {
      if (!feature.geometry) continue;
      const props = feature.properties || {};
      const county = level(feature) === 'county';
      const layer = L.geoJSON({ type: 'Feature', geometry: feature.geometry, properties: props }, {
        coordsToLatLng: geoJsonToMap,
        pane: 'areas',
        interactive: false,
        style: () => (county
          ? { color: '#868e96', weight: 1, dashArray: '4 3', fill: false, className: 'area-polygon area-county' }
          : {
            color: '#5c7080', weight: 1.5, fillColor: '#fbfaf4', fillOpacity: tiled ? 0 : 1,
            className: 'area-polygon area-city',
          }),
      });
      const hasCounties = !county && cityKeys(props).some((key) => citiesWithCounties.has(key));
      const labelClass = `area-label ${county ? 'area-label-county' : 'area-label-city'}${hasCounties ? ' has-counties' : ''}`;
      layer.eachLayer((shape) => shape.bindTooltip(el('span', { text: props.name || props.adcode || '' }), {
        permanent: true, direction: 'center', pane: 'areaLabels', className: labelClass,
      }));
      mapState.areas.addLayer(layer);
    }
    $('map').dataset.areaVersion = String((collection && collection.version) ?? '');
    $('map').dataset.areas = String(mapState.areas.getLayers().length);
    if (tiled) return;
    if (mapState.areas.getLayers().length)
      $('map-note').textContent = '无底图（离线运行）：底色为导入的市、县行政区划，放大后显示县名。区域轮廓为示意；GCJ-02 坐标的区域已换算为 WGS-84。';
    else if (collection)
      $('map-note').textContent = '无底图（离线运行），也未导入行政区划（lantiand import-areas）：仅显示区域轮廓与违规点。';
    else
      $('map-note').textContent = '无底图（离线运行）：仅显示区域轮廓与违规点。';
  }

  function zoneLayer(feature, className, extraStyle = {}) {
    const props = feature.properties || {};
    const color = ZONE_COLORS[props.kind] || '#495057';
    const layer = L.geoJSON(
      // The API returns every outline in WGS-84, like the terminals' fixes (GCJ-02 uploads converted).
      { type: 'Feature', geometry: feature.geometry, properties: props },
      {
        coordsToLatLng: geoJsonToMap,
        style: () => ({
          color,
          weight: 2,
          fillColor: color,
          fillOpacity: props.kind === 'exempt_corridor' ? 0.35 : 0.12,
          className: `${className} zone-kind-${props.kind || 'unknown'}`,
          ...extraStyle,
        }),
      },
    );
    layer.bindTooltip(
      tooltip(props.name || props.id, `${ZONE_KINDS[props.kind] || props.kind || ''} · ${props.city || ''} · ${props.id || ''}`),
      { sticky: true },
    );
    return layer;
  }

  async function loadZones() {
    let collection;
    try {
      collection = await apiJson('/api/v1/zones');
    } catch (error) {
      if (error instanceof ApiError && error.status === 404) return;  // no zone set uploaded yet
      throw error;
    }
    mapState.zones.clearLayers();
    for (const feature of collection.features || []) mapState.zones.addLayer(zoneLayer(feature, 'zone-polygon'));
    $('map').dataset.zoneVersion = String(collection.version ?? '');
    $('map').dataset.zones = String((collection.features || []).length);
    if (mapState.zones.getLayers().length) mapState.map.fitBounds(mapState.zones.getBounds(), { padding: [10, 10] });
    restack();
  }

  const SEVERITY_COLORS = { high: '#c92a2a', medium: '#e67700', low: '#1971c2' };

  function drawViolationMarkers(items) {
    mapState.violations.clearLayers();
    mapState.markers.clear();
    for (const v of items) {
      if (typeof v.lon !== 'number' || typeof v.lat !== 'number') continue;
      const marker = L.circleMarker(toMapLatLng(v.lat, v.lon), {
        radius: 7,
        color: '#ffffff',
        weight: 2,
        fillColor: SEVERITY_COLORS[v.severity] || '#c92a2a',
        fillOpacity: v.status === 'open' ? 0.95 : 0.45,
        className: 'violation-marker',
      });
      marker.bindTooltip(tooltip(`${v.plate || v.vin} · ${ruleLabel(v.rule)}`, `${fmtIso(v.time)} · ${STATUS[v.status] || v.status}`));
      marker.on('click', action(() => openViolation(v.id)));
      mapState.violations.addLayer(marker);
      mapState.markers.set(v.id, marker);
    }
    restack();
  }

  // The violation shown in detail: its point highlighted, the evidence points, the zone of the
  // version it was raised under.
  function drawDetail(detail) {
    mapState.detail.clearLayers();
    const v = detail.violation;
    const bounds = L.latLngBounds([]);
    if (detail.zone && detail.zone.geometry) {
      const zone = zoneLayer(detail.zone, 'detail-zone', { weight: 4, dashArray: '8 6', fillOpacity: 0.2 });
      mapState.detail.addLayer(zone);
      bounds.extend(zone.getBounds());
    }
    for (const ob of detail.observations || []) {
      if (typeof ob.lon !== 'number' || typeof ob.lat !== 'number') continue;
      const point = L.circleMarker(toMapLatLng(ob.lat, ob.lon), {
        radius: 4, color: '#343a40', weight: 1, fillColor: '#ffd43b', fillOpacity: 1, className: 'evidence-point',
      });
      point.bindTooltip(tooltip(`证据 ${ob.id}`, ob.site, fmtIso(ob.time)));
      mapState.detail.addLayer(point);
      bounds.extend(point.getLatLng());
    }
    if (typeof v.lon === 'number' && typeof v.lat === 'number') {
      const highlight = L.circleMarker(toMapLatLng(v.lat, v.lon), {
        radius: 12, color: '#000000', weight: 3, fill: false, className: 'violation-highlight',
      });
      highlight.bindTooltip(tooltip(`${v.plate || v.vin} · ${ruleLabel(v.rule)}`, fmtIso(v.time)));
      highlight.on('click', () => $('violation-detail').scrollIntoView({ behavior: 'smooth' }));
      mapState.detail.addLayer(highlight);
      bounds.extend(highlight.getLatLng());
    }
    restack();
    // Close enough to see the point, far enough to keep the surrounding zones in view.
    if (bounds.isValid()) mapState.map.fitBounds(bounds.pad(0.2), { maxZoom: detail.zone ? 12 : 10 });
  }

  // --- the violation list ------------------------------------------------------------------------

  function readFilters() {
    const filters = {};
    const put = (name, value) => {
      const text = String(value || '').trim();
      if (text) filters[name] = text;
    };
    put('rule', $('filter-rule').value);
    put('status', $('filter-status').value);
    put('severity', $('filter-severity').value);
    put('city', $('filter-city').value);
    put('from', $('filter-from').value);
    put('to', $('filter-to').value);
    const vehicle = $('filter-vehicle').value.trim();
    // 17 letters and digits: a VIN; anything else: a plate (a registered vehicle's, or one seen only
    // at an enterprise's gate).
    if (/^[A-Za-z0-9]{17}$/.test(vehicle)) filters.vin = vehicle.toUpperCase();
    else put('plate', vehicle);
    if ($('filter-suspect').checked) filters.suspect = 'true';
    if ($('filter-withdrawn').checked) filters.include_withdrawn = 'true';
    return filters;
  }

  async function search() {
    state.filters = readFilters();
    state.limit = Number($('filter-limit').value) || 50;
    state.pages = [null];
    await loadPage(0);
  }

  async function loadPage(index) {
    const table = $('violations-table');
    const params = new URLSearchParams(state.filters);
    params.set('limit', String(state.limit));
    if (state.pages[index]) params.set('cursor', state.pages[index]);
    table.dataset.state = 'loading';
    $('search-button').disabled = true;
    try {
      const page = await apiJson(`/api/v1/violations?${params}`);
      state.pageIndex = index;
      state.pages.length = index + 1;
      if (page.next_cursor) state.pages.push(page.next_cursor);
      state.items = page.items || [];
      renderTable();
      drawViolationMarkers(state.items);
      const more = page.scan_limited ? '（本次扫描已达上限，可点“下一页”继续）' : '';
      $('page-info').textContent = `第 ${index + 1} 页`;
      $('result-info').textContent = `本页 ${state.items.length} 条${more}`;
      table.dataset.state = 'ready';
    } catch (error) {
      table.dataset.state = 'error';
      throw error;
    } finally {
      $('search-button').disabled = false;
      $('first-page').disabled = state.pageIndex === 0;
      $('prev-page').disabled = state.pageIndex === 0;
      $('next-page').disabled = state.pages.length <= state.pageIndex + 1;
    }
  }

  function statusCell(v) {
    const cell = el('span', { class: `status status-${v.status}`, text: STATUS[v.status] || v.status });
    return v.withdrawn ? [cell, el('span', { class: 'tag', text: '已撤销' })] : cell;
  }

  function renderTable() {
    const body = $('violations-table').tBodies[0];
    const rows = state.items.map((v) =>
      el('tr', {
        class: state.detail && state.detail.violation.id === v.id ? 'selected' : '',
        dataset: { id: v.id, testid: 'violation-row' },
        tabindex: '0',
        title: '点击查看详情',
        onclick: action(() => openViolation(v.id)),
        onkeydown: (e) => { if (e.key === 'Enter') action(() => openViolation(v.id))(); },
      },
      el('td', { text: fmtIso(v.time) }),
      el('td', { title: RULES[v.rule] || '', text: v.rule }),
      el('td', {}, el('span', { class: `sev sev-${v.severity}`, text: SEVERITY[v.severity] || v.severity })),
      el('td', {}, statusCell(v)),
      el('td', { text: dash(v.plate) }),
      el('td', { class: 'mono', text: v.vin }),
      el('td', { text: dash(v.city) }),
      el('td', { text: dash(v.zone_id) })));
    if (!rows.length)
      rows.push(el('tr', { class: 'empty' }, el('td', { colspan: '8', text: '没有符合条件的违规记录' })));
    body.replaceChildren(...rows);
  }

  function resetFilters() {
    $('filters').reset();
  }

  // The CSV export carries the same filters as the list shown. A link cannot carry the token, so
  // the file is fetched and handed to the browser as a blob.
  async function exportCsv() {
    const button = $('export-button');
    button.disabled = true;
    try {
      const response = await api(`/api/v1/violations.csv?${new URLSearchParams(state.filters)}`);
      const blob = await response.blob();
      const url = URL.createObjectURL(blob);
      const link = el('a', { href: url, download: `违规记录-${beijingDate(Date.now())}.csv` });
      document.body.append(link);
      link.click();
      link.remove();
      setTimeout(() => URL.revokeObjectURL(url), 30000);
    } finally {
      button.disabled = false;
    }
  }

  // --- violation detail --------------------------------------------------------------------------

  function field(list, label, value, props = {}) {
    list.append(el('dt', { text: label }), el('dd', props, value instanceof Node ? value : dash(value)));
  }

  function vehicleLink(vin, text) {
    return el('a', {
      href: '#', class: 'vehicle-link', text: text || vin, dataset: { vin },
      onclick: action(() => openVehicle(vin)),
    });
  }

  async function openViolation(id) {
    const section = $('violation-detail');
    section.dataset.state = 'loading';
    const detail = await apiJson(`/api/v1/violations/${encodeURIComponent(id)}`);
    state.detail = detail;
    switchView('violations');
    renderDetail();
    drawDetail(detail);
    renderTable();  // marks the selected row
    section.hidden = false;
    section.dataset.state = 'ready';
    section.scrollIntoView({ block: 'start' });
  }

  function renderDetail() {
    const { violation: v, vehicle } = state.detail;
    const section = $('violation-detail');
    section.dataset.id = v.id;
    const list = $('detail-fields');
    list.replaceChildren();
    field(list, '编号', v.id, { class: 'mono', id: 'detail-id' });
    field(list, '规则', ruleLabel(v.rule), { id: 'detail-rule' });
    field(list, '严重程度', SEVERITY[v.severity] || v.severity, { id: 'detail-severity' });
    field(list, '状态', el('span', {}, statusCell(v)), { id: 'detail-status', dataset: { status: v.status } });
    field(list, '存疑', v.suspect ? '是（排放阶段为推断）' : '否', { id: 'detail-suspect' });
    field(list, '排放阶段', `${dash(v.stage)}（来源：${STAGE_SOURCES[v.stage_source] || dash(v.stage_source)}）`);
    const thresholds = Object.entries(v.thresholds || {});
    field(list, '阈值', thresholds.length
      ? el('ul', { class: 'plain' }, thresholds.map(([key, value]) => el('li', {
        text: `${THRESHOLDS[key] || key}：${key.endsWith('unix_s') ? fmtMs(value * 1000) : value}`,
      })))
      : '—');
    field(list, '违规时间', fmtIso(v.time));
    if (v.raised_unix_s) field(list, '起始时间', fmtMs(v.raised_unix_s * 1000));
    field(list, '检出时间', fmtMs(v.detected_unix_ms));
    field(list, '车辆', vehicleLink(v.vin, v.plate ? `${v.plate}（${v.vin}）` : v.vin));
    if (vehicle)
      field(list, '车辆信息', `${categoryLabel(vehicle.category)} · ${dash(vehicle.owner)}`);
    field(list, '城市', v.city);
    field(list, '区域', v.zone_id ? `${v.zone_id}（版本 ${dash(v.zone_version)}）` : '—', { id: 'detail-zone' });
    if (state.detail.zone && state.detail.zone.properties)
      field(list, '区域名称', state.detail.zone.properties.name);
    field(list, '位置', fmtCoord(v.lon, v.lat));
    if (v.enterprise_id) field(list, '企业编号', v.enterprise_id, { class: 'mono', id: 'detail-enterprise' });
    for (const [key, value] of Object.entries(v.details || {}))
      field(list, DETAILS[key] || key,
        key === 'alert_level' ? `${ALERT_LEVELS[value] || value}预警` : key === 'direction' ? (value === 'in' ? '进厂' : '出厂') : value,
        { class: key === 'image_ref' ? 'mono' : '', dataset: { detail: key } });
    if (v.withdrawn)
      field(list, '已撤销', `${fmtMs(v.withdrawn.unix_ms)}：${dash(v.withdrawn.reason)}`);
    renderEvidence();
    renderReview();
  }

  function renderEvidence() {
    const { violation: v, frames = [], observations = [] } = state.detail;
    const box = $('evidence');
    // Gate records are shown after the frames and observations (renderEvidence's end).
    box.replaceChildren();
    // The evidence references with their times, then the frames and observations they point to.
    const timeByRef = new Map((v.evidence || []).map((e) => [e.frame_key, e.time]));
    const refs = el('ol', { class: 'evidence-refs' }, (v.evidence || []).map((e) =>
      el('li', {}, `${fmtIso(e.time)} · `, el('span', { class: 'mono', text: e.frame_key }),
        e.block >= 0 ? ` · 数据块 ${e.block}` : '')));
    box.append(el('p', { class: 'hint', text: `证据条目 ${(v.evidence || []).length} 项：` }), refs);

    for (const frame of frames) {
      const decoded = frame.decoded === null || frame.decoded === undefined
        ? '（无法解码）' : JSON.stringify(frame.decoded, null, 2);
      box.append(el('div', { class: 'evidence-item evidence-frame', dataset: { testid: 'evidence-frame' } },
        el('h4', { text: '终端数据帧' }),
        el('dl', { class: 'fields' },
          el('dt', { text: '采集时间' }), el('dd', { text: fmtIso(timeByRef.get(frame.frame_key)) }),
          el('dt', { text: '接收时间' }), el('dd', { text: fmtMs(frame.receive_unix_ms) }),
          el('dt', { text: '接入' }), el('dd', { text: `${dash(frame.listener)} · ${dash(frame.peer)}` }),
          el('dt', { text: '帧键' }), el('dd', { class: 'mono', text: frame.frame_key })),
        el('div', { class: 'hex-label', text: '原始报文（十六进制）' }),
        el('code', { class: 'hex', text: frame.hex }),
        el('details', {}, el('summary', { text: '解码内容（JSON）' }), el('pre', { class: 'json', text: decoded }))));
    }
    for (const ob of observations) {
      const kind = ob.kind === 'smoke' ? '烟度检测' : ob.kind === 'sighting' ? '目击/卡口记录' : ob.kind;
      const rows = [
        ['编号', ob.id], ['时间', fmtIso(ob.time)], ['地点', ob.site], ['坐标', fmtCoord(ob.lon, ob.lat)],
      ];
      if (ob.ringelmann !== undefined) rows.push(['林格曼黑度', `${ob.ringelmann} 级`]);
      if (ob.k_m1 !== undefined) rows.push(['光吸收系数 k', `${ob.k_m1} m⁻¹`]);
      if (ob.plate) rows.push(['车牌', ob.plate]);
      if (ob.image_ref) rows.push(['图像', ob.image_ref]);
      if (ob.source) rows.push(['来源', ob.source]);
      box.append(el('div', { class: 'evidence-item evidence-observation', dataset: { testid: 'evidence-observation', id: ob.id } },
        el('h4', { text: kind }),
        el('dl', { class: 'fields' }, rows.map(([label, value]) => [
          el('dt', { text: label }),
          el('dd', { class: label === '地点' ? 'observation-site' : label === '图像' ? 'mono' : '', text: dash(value) }),
        ]))));
    }
    const gates = state.detail.gate_records || [];
    for (const g of gates) {
      const rows = [
        ['编号', `${g.enterprise}/${g.id}`], ['时间', fmtIso(g.time)], ['门禁', g.gate],
        ['方向', g.direction === 'in' ? '进厂' : '出厂'], ['车牌', g.plate],
        ['申报排放阶段', g.declared_stage], ['申报燃料', FUELS[g.declared_fuel] || g.declared_fuel],
        ['货物', g.cargo ? `${g.cargo}${g.bulk ? '（大宗物料）' : ''}` : ''], ['门禁照片', g.image_ref],
        ['匹配车辆', g.matched_vin || g.unmatched],
      ];
      box.append(el('div', { class: 'evidence-item evidence-gate', dataset: { testid: 'evidence-gate', id: g.id } },
        el('h4', { text: '企业门禁记录' }),
        el('dl', { class: 'fields' }, rows.map(([label, value]) => [
          el('dt', { text: label }),
          el('dd', { class: label === '门禁照片' ? 'mono gate-image' : '', text: dash(value) }),
        ]))));
    }
    const found = frames.length + observations.length + gates.length;
    const distinct = new Set((v.evidence || []).map((e) => e.frame_key)).size;
    if (found < distinct)
      box.append(el('p', { class: 'error', text: `有 ${distinct - found} 项证据在存档中未找到。` }));
  }

  function renderReview() {
    const v = state.detail.violation;
    const canReview = state.me.role === 'reviewer' && !v.withdrawn;
    $('review').hidden = !canReview;
    $('review-message').textContent = '';
    $('review-comment').value = '';
    const history = [...(v.review_history || []), ...(v.review ? [v.review] : [])].reverse();
    const box = $('review-history');
    box.replaceChildren(history.length
      ? el('ol', { class: 'history' }, history.map((r, i) => el('li', { dataset: { decision: r.decision } },
        el('strong', { text: `${STATUS[r.decision] || r.decision}${i === 0 ? '（当前）' : ''}` }),
        ` · ${fmtMs(r.unix_ms)} · 审核人令牌 ${dash(r.by)}`,
        el('div', { class: 'comment', text: r.comment || '' }))))
      : el('p', { class: 'hint', text: '暂无审核记录。' }));
  }

  async function submitReview(decision) {
    const message = $('review-message');
    const comment = $('review-comment').value.trim();
    if (!comment) {
      message.textContent = '请先填写审核意见。';
      message.className = 'error';
      $('review-comment').focus();
      return;
    }
    const id = state.detail.violation.id;
    for (const b of [$('review-confirm'), $('review-dismiss')]) b.disabled = true;
    try {
      const updated = await apiJson(`/api/v1/violations/${encodeURIComponent(id)}/review`, {
        method: 'POST', body: { decision, comment },
      });
      state.detail.violation = updated;
      state.items = state.items.map((v) => (v.id === id ? updated : v));
      renderDetail();
      renderTable();
      drawViolationMarkers(state.items);
      $('review-message').textContent = `已提交，当前状态：${STATUS[updated.status] || updated.status}`;
      $('review-message').className = 'ok';
    } catch (error) {
      message.textContent = describeError(error);
      message.className = 'error';
      throw error;
    } finally {
      for (const b of [$('review-confirm'), $('review-dismiss')]) b.disabled = false;
    }
  }

  function closeDetail() {
    state.detail = null;
    $('violation-detail').hidden = true;
    mapState.detail.clearLayers();
    renderTable();
  }

  // --- vehicles ----------------------------------------------------------------------------------

  async function searchVehicles() {
    const q = $('vehicle-query').value.trim();
    const list = $('vehicle-results');
    if (q.length < 2) {
      list.replaceChildren(el('li', { class: 'hint', text: '请输入至少 2 个字符。' }));
      return;
    }
    const result = await apiJson(`/api/v1/vehicles?${new URLSearchParams({ q, limit: '50' })}`);
    const items = result.items || [];
    list.replaceChildren(...(items.length ? items.map((v) => el('li', {},
      el('button', { type: 'button', class: 'link', dataset: { vin: v.vin }, onclick: action(() => openVehicle(v.vin)) },
        `${v.plate || '（无车牌）'} · ${v.vin} · ${dash(v.city)} · ${categoryLabel(v.category)}`)))
      : [el('li', { class: 'hint', text: '没有找到车辆。' })]));
  }

  async function openVehicle(vin) {
    switchView('vehicle');
    const section = $('vehicle-detail');
    section.dataset.state = 'loading';
    const v = await apiJson(`/api/v1/vehicles/${encodeURIComponent(vin)}`);
    state.vehicle = v;
    const r = v.registry;
    section.dataset.vin = v.vin;
    $('vehicle-title').textContent = `车辆 ${r && r.plate ? `${r.plate} · ` : ''}${v.vin}`;
    const list = $('vehicle-fields');
    list.replaceChildren();
    field(list, 'VIN', v.vin, { class: 'mono' });
    if (r) {
      field(list, '车牌', r.plate ? `${r.plate}（${PLATE_COLORS[r.plate_color] || dash(r.plate_color)}）` : '—');
      field(list, '类别', categoryLabel(r.category));
      field(list, '燃料', FUELS[r.fuel] || r.fuel);
      field(list, '排放阶段', `${dash(r.emission_stage)}（来源：${STAGE_SOURCES[r.stage_source] || dash(r.stage_source)}）`);
      field(list, '额定功率', r.rated_power_kw === null ? '—' : `${r.rated_power_kw} kW`);
      field(list, '协议', r.profile);
      field(list, '所属单位', r.owner);
      if (r.registration_code) field(list, '环保登记编码', r.registration_code, { class: 'mono' });
      if (r.chip_id) field(list, '安全芯片', r.chip_id, { class: 'mono' });
    } else {
      field(list, '登记信息', '未登记（仅有终端数据）');
    }
    field(list, '归属城市', v.city);
    field(list, '状态', el('span', { class: v.online ? 'online' : 'offline', text: v.online ? '在线' : '离线' }),
      { id: 'vehicle-online' });
    const latest = v.latest;
    field(list, '最新数据帧', latest
      ? `采集 ${fmtIso(latest.collection_time)} · 接收 ${fmtMs(latest.receive_unix_ms)} · ${dash(latest.command_name)}`
      : '无');
    const fix = v.last_fix;
    field(list, '最后定位', fix
      ? `${fmtIso(fix.time)} · ${fmtCoord(fix.lon, fix.lat)}${fix.valid === false ? '（无效定位）' : ''}`
      : '无');

    // Open violations (police and reviewers only).
    const open = v.open_violations;
    $('vehicle-violations-block').hidden = !Array.isArray(open);
    if (Array.isArray(open)) {
      const rows = open.map((x) => el('tr', {
        dataset: { id: x.id }, title: '点击查看详情', onclick: action(() => openViolation(x.id)),
      },
      el('td', { text: fmtIso(x.time) }),
      el('td', { title: RULES[x.rule] || '', text: x.rule }),
      el('td', { text: SEVERITY[x.severity] || x.severity }),
      el('td', {}, statusCell(x))));
      if (!rows.length) rows.push(el('tr', { class: 'empty' }, el('td', { colspan: '4', text: '无未处理违规' })));
      $('vehicle-violations').tBodies[0].replaceChildren(...rows);
    }

    // The track's default day: the last fix, else the latest frame, else the newest violation.
    const day = isoDate(fix && fix.time) || isoDate(latest && latest.collection_time) ||
      isoDate(open && open[0] && open[0].time) || beijingDate(Date.now());
    $('track-from').value = day;
    $('track-to').value = day;
    $('track-info').textContent = '轨迹最长 7 天。';
    mapState.track.clearLayers();
    section.hidden = false;
    section.dataset.state = 'ready';
  }

  async function showTrack() {
    const vin = state.vehicle && state.vehicle.vin;
    if (!vin) return;
    const from = $('track-from').value;
    const to = $('track-to').value || from;
    const info = $('track-info');
    if (!from) {
      info.textContent = '请选择开始日期。';
      return;
    }
    info.textContent = '加载中…';
    const collection = await apiJson(`/api/v1/vehicles/${encodeURIComponent(vin)}/track?${new URLSearchParams({ from, to })}`);
    mapState.track.clearLayers();
    const feature = (collection.features || [])[0];
    const coords = feature && feature.geometry ? feature.geometry.coordinates : [];
    const times = (feature && feature.properties && feature.properties.times) || [];
    if (!coords.length) {
      info.textContent = `${from} 至 ${to} 没有有效定位。`;
      return;
    }
    const latlngs = coords.map(([lon, lat]) => toMapLatLng(lat, lon));
    const line = L.polyline(latlngs, { color: '#1864ab', weight: 3, opacity: 0.85, className: 'vehicle-track' });
    line.bindTooltip(tooltip(`轨迹 ${vin}`, `${coords.length} 个定位点`), { sticky: true });
    mapState.track.addLayer(line);
    const ends = [[0, '起点', '#2f9e44'], [latlngs.length - 1, '终点', '#e03131']];
    for (const [i, label, color] of ends) {
      const point = L.circleMarker(latlngs[i], { radius: 5, color, fillColor: color, fillOpacity: 1, className: 'track-end' });
      point.bindTooltip(tooltip(label, times[i] !== undefined ? fmtMs(times[i] * 1000) : ''));
      mapState.track.addLayer(point);
    }
    restack();
    mapState.map.fitBounds(line.getBounds().pad(0.2), { maxZoom: 15 });
    const first = times.length ? fmtMs(times[0] * 1000) : '';
    const last = times.length ? fmtMs(times[times.length - 1] * 1000) : '';
    info.textContent = `${coords.length} 个定位点：${first} — ${last}`;
  }

  // --- wiring ------------------------------------------------------------------------------------

  // --- key freight enterprises -------------------------------------------------------------------

  const enterprises = { loaded: false, rows: [], selected: null };
  const percent = (x) => (x === null || x === undefined ? '—' : `${(x * 100).toFixed(1)}%`);
  const beijingMonth = () => new Date(Date.now() + BEIJING_MS).toISOString().slice(0, 7);
  // The month `n` months before "YYYY-MM".
  function monthBefore(month, n) {
    const [y, m] = month.split('-').map(Number);
    const index = y * 12 + (m - 1) - n;
    return `${Math.floor(index / 12)}-${String((index % 12) + 1).padStart(2, '0')}`;
  }

  async function loadEnterpriseStats() {
    const month = $('stats-month').value || beijingMonth();
    $('stats-month').value = month;
    const table = $('enterprise-table');
    table.dataset.state = 'loading';
    const query = new URLSearchParams({ month });
    const city = $('stats-city').value.trim();
    if (city) query.set('city', city);
    const [stats, alerts] = await Promise.all([
      apiJson(`/api/v1/stats/enterprises?${query}`),
      apiJson(`/api/v1/alerts?${new URLSearchParams({ from: `${month}-01`, to: `${monthBefore(month, -1)}-01` })}`),
    ]);
    enterprises.loaded = true;
    enterprises.rows = stats.enterprises;
    const total = stats.total;
    $('stats-info').textContent = `${stats.enterprises.length} 家企业 · 大宗进厂 ${total.bulk_entries} 车次 · 清洁运输 ${percent(total.clean_share)}`;
    table.tBodies[0].replaceChildren(...stats.enterprises.map((e) => el('tr', {
      dataset: { id: e.id, testid: 'enterprise-row' },
      class: enterprises.selected === e.id ? 'selected' : '',
      tabindex: '0',
      onclick: action(() => openEnterprise(e.id)),
    },
    el('td', { text: e.name }), el('td', { text: e.city }), el('td', { text: e.industry }),
    el('td', { text: e.grade }), el('td', { text: e.bulk_entries }),
    el('td', { class: 'share', text: percent(e.clean_share) }),
    el('td', {
      class: e.meets_target === null ? '' : e.meets_target ? 'share-ok' : 'share-low',
      text: e.meets_target === null ? '—' : e.meets_target ? '达标' : '未达标',
    }),
    el('td', { text: percent(e.alert_compliance) }))));
    renderAlertCalendar(month, alerts.items.filter((a) => !city || a.city === city));
    table.dataset.state = 'ready';
  }

  // The month's days in weeks (Monday first), each with the alerts in force on it.
  function renderAlertCalendar(month, alerts) {
    const box = $('alert-calendar');
    const [y, m] = month.split('-').map(Number);
    const days = new Date(Date.UTC(y, m, 0)).getUTCDate();
    const lead = (new Date(Date.UTC(y, m - 1, 1)).getUTCDay() + 6) % 7;
    const cells = ['一', '二', '三', '四', '五', '六', '日'].map((d) => el('div', { class: 'weekday', text: d }));
    for (let i = 0; i < lead; i += 1) cells.push(el('div'));
    for (let d = 1; d <= days; d += 1) {
      const date = `${month}-${String(d).padStart(2, '0')}`;
      const start = Date.parse(`${date}T00:00:00+08:00`) / 1000;
      const inForce = alerts.filter((a) => {
        const end = a.ended_unix_s !== null && a.ended_unix_s < a.to_unix_s ? a.ended_unix_s : a.to_unix_s;
        return a.from_unix_s < start + 86400 && end > start;
      });
      cells.push(el('div', { class: 'day', dataset: { date, alerts: inForce.length } },
        el('span', { class: 'date', text: d }),
        inForce.map((a) => el('span', {
          class: `alert alert-${a.level}`, title: a.note || a.id,
          text: `${a.city} ${ALERT_LEVELS[a.level] || a.level}`,
        }))));
    }
    box.replaceChildren(...cells);
  }

  async function openEnterprise(id) {
    enterprises.selected = id;
    const month = $('stats-month').value || beijingMonth();
    const section = $('enterprise-detail');
    section.dataset.state = 'loading';
    const monthly = await apiJson(`/api/v1/stats/enterprises/${encodeURIComponent(id)}?${new URLSearchParams({
      from: monthBefore(month, 11), to: month })}`);
    const e = monthly.enterprise;
    $('enterprise-title').textContent = e.name;
    const list = $('enterprise-fields');
    list.replaceChildren();
    field(list, '编号', e.id, { class: 'mono' });
    field(list, '城市', e.city);
    field(list, '行业', e.industry);
    field(list, '绩效等级', e.grade);
    const current = monthly.months[monthly.months.length - 1];
    field(list, '本月进厂', `${current.entries} 车次（大宗物料 ${current.bulk_entries}）`);
    field(list, '各排放阶段车辆', Object.entries(current.trucks_by_stage).map(([k, n]) => `${k === 'new_energy' ? '新能源' : k === 'unknown' ? '未知' : k}：${n}`).join('，') || '—',
      { id: 'enterprise-stages' });
    drawShareChart(monthly.months, monthly.target);
    const body = $('enterprise-r14').tBodies[0];
    body.replaceChildren();
    if (canReadViolations()) {
      const r14 = await apiJson(`/api/v1/violations?${new URLSearchParams({ enterprise: id, rule: 'R14', limit: '100' })}`);
      body.append(...r14.items.map((v) => el('tr', {
        dataset: { id: v.id, testid: 'r14-row' }, tabindex: '0', onclick: action(() => openViolation(v.id)),
      },
      el('td', { text: fmtIso(v.time) }), el('td', { text: dash(v.plate) }), el('td', { text: dash(v.stage) }),
      el('td', { text: dash((v.details || {}).oldest_allowed) }),
      el('td', { text: `${ALERT_LEVELS[(v.details || {}).alert_level] || '—'}` }),
      el('td', { class: 'mono gate-image', text: dash((v.details || {}).image_ref) }))));
      if (!r14.items.length) body.append(el('tr', {}, el('td', { colspan: '6', class: 'hint', text: '没有记录。' })));
    }
    for (const row of $('enterprise-table').tBodies[0].rows) row.classList.toggle('selected', row.dataset.id === id);
    section.hidden = false;
    section.dataset.state = 'ready';
  }

  // Bars of each month's clean-transport share with the target line, drawn as SVG in the page.
  function drawShareChart(months, target) {
    const NS = 'http://www.w3.org/2000/svg';
    const svg = (tag, attrs, text) => {
      const node = document.createElementNS(NS, tag);
      for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, String(v));
      if (text !== undefined) node.textContent = String(text);
      return node;
    };
    const width = 600, height = 180, left = 34, bottom = 24, top = 10;
    const plotH = height - bottom - top;
    const step = (width - left) / months.length;
    const root = svg('svg', { viewBox: `0 0 ${width} ${height}`, role: 'img', 'aria-label': '清洁运输比例月度图' });
    for (const y of [0, 0.5, 1])
      root.append(svg('text', { x: 2, y: top + plotH * (1 - y) + 3 }, `${y * 100}%`));
    months.forEach((m, i) => {
      const share = m.clean_share;
      const h = share === null ? 0 : plotH * share;
      const bar = svg('rect', {
        class: `bar${m.meets_target ? ' met' : ''}`, x: left + i * step + step * 0.15, y: top + plotH - h,
        width: step * 0.7, height: h, 'data-month': m.month, 'data-share': share === null ? '' : share,
      });
      bar.append(svg('title', {}, `${m.month}：${percent(share)}（大宗 ${m.bulk_entries} 车次）`));
      root.append(bar);
      root.append(svg('text', { x: left + i * step + step * 0.1, y: height - 8 }, m.month.slice(2)));
    });
    const ty = top + plotH * (1 - target);
    root.append(svg('line', { class: 'target', x1: left, x2: width, y1: ty, y2: ty }));
    $('enterprise-chart').replaceChildren(root);
  }

  function fillSelects() {
    const rule = $('filter-rule');
    for (const [code, name] of Object.entries(RULES)) rule.append(el('option', { value: code, text: `${code} ${name}` }));
    const cities = $('city-list');
    for (const city of CITIES) cities.append(el('option', { value: city }));
  }

  function wire() {
    $('login-form').addEventListener('submit', (e) => {
      e.preventDefault();
      login($('token-input').value);
    });
    $('logout-button').addEventListener('click', () => logout());
    $('error-close').addEventListener('click', hideError);
    $('tab-violations').addEventListener('click', () => switchView('violations'));
    $('tab-vehicle').addEventListener('click', () => switchView('vehicle'));
    $('tab-sharing').addEventListener('click', () => switchView('sharing'));
    $('sharing-refresh').addEventListener('click', action(loadSubscribers));
    $('tab-enterprises').addEventListener('click', action(async () => {
      switchView('enterprises');
      if (!enterprises.loaded) await loadEnterpriseStats();
    }));
    $('enterprise-filters').addEventListener('submit', action(loadEnterpriseStats));
    $('enterprise-close').addEventListener('click', () => {
      $('enterprise-detail').hidden = true;
      enterprises.selected = null;
    });
    $('filters').addEventListener('submit', action(search));
    $('filter-limit').addEventListener('change', action(search));
    $('reset-button').addEventListener('click', action(async () => { resetFilters(); await search(); }));
    $('export-button').addEventListener('click', action(exportCsv));
    $('first-page').addEventListener('click', action(() => loadPage(0)));
    $('live-feed').addEventListener('click', action(async () => {
      feed.fresh = 0;
      showFeed('实时：已连接');
      await loadPage(0);
    }));
    $('prev-page').addEventListener('click', action(() => loadPage(Math.max(0, state.pageIndex - 1))));
    $('next-page').addEventListener('click', action(() => loadPage(state.pageIndex + 1)));
    $('detail-close').addEventListener('click', closeDetail);
    $('review-confirm').addEventListener('click', action(() => submitReview('confirmed')));
    $('review-dismiss').addEventListener('click', action(() => submitReview('dismissed')));
    $('vehicle-search').addEventListener('submit', action(searchVehicles));
    $('track-button').addEventListener('click', action(showTrack));
    $('track-clear').addEventListener('click', () => {
      mapState.track.clearLayers();
      $('track-info').textContent = '轨迹最长 7 天。';
    });
  }

  function start() {
    fillSelects();
    wire();
    const saved = sessionStorage.getItem(TOKEN_KEY);
    if (saved) login(saved);
    else $('token-input').focus();
  }

  if (typeof L === 'undefined') {
    document.body.textContent = '地图组件（Leaflet）未能加载。';
    return;
  }
  start();
})();
