// Browser test of the lantiand web console, in Debian's Chromium through playwright-core.
//
// Usage: node console_test.mjs CONSOLE_URL REVIEWER_TOKEN SCREENSHOT.png ADMIN_TOKEN
//        node console_test.mjs --tiles CONSOLE_URL REVIEWER_TOKEN SCREENSHOT.png
//
// The first form expects a server without a tile layer (offline, the default); the second one
// started with `--map-tiles 'https://tiles.example.test/{z}/{x}/{y}.png' --map-tiles-crs gcj02
// --map-tiles-attribution 'Test tiles'`, whose tiles the test answers itself.
//
// Expects a server holding exactly samples/registry-sample.csv, samples/zones-henan-sample.geojson,
// samples/areas-henan-sample.geojson, samples/enterprises-henan-sample.csv,
// tests/browser/observations.jsonl, an orange alert in 焦作 on
// 10–11 November 2026 and tests/browser/gate-events.jsonl (run.sh prepares one): 24 violations, 8
// of them R05 (one per smoke observation above the limit), 4 R01 (sightings of 国三 trucks on 2026
// days), 11 R02 (camera and gate sightings of those trucks inside 郑州's and 许昌's truck
// restriction zones) and one R14 (a 国四 truck let into 焦作's grade-A steel works on the alert).
// Prints one line per check and a closing "N passed, N failed" line; exits non-zero on the first
// failure, and after a hard timeout whatever happens.
import { chromium } from 'playwright-core';
import { readFile } from 'node:fs/promises';

const HARD_TIMEOUT_MS = 180_000;
const STEP_TIMEOUT_MS = 20_000;
const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';

const tilesMode = process.argv[2] === '--tiles';
const [url, token, screenshotPath, adminToken] = process.argv.slice(tilesMode ? 3 : 2);
if (!url || !token || !screenshotPath || !(tilesMode || adminToken)) {
  console.error('usage: node console_test.mjs CONSOLE_URL REVIEWER_TOKEN SCREENSHOT.png ADMIN_TOKEN\n' +
    '       node console_test.mjs --tiles CONSOLE_URL REVIEWER_TOKEN SCREENSHOT.png');
  process.exit(2);
}

// What the test data implies, newest first (by evidence time).
const R05_IDS = [
  'R05|LGAD6SJA1RG736370|smoke-zz-04',
  'R05|NRZJ1JZZ98M3GG0FY|smoke-zz-03',
  'R05|LZZJ5ACA5AF110265|smoke-zz-02',
  'R05|NRL0P67VK8FTK8MJK|smoke-xc-01',
  'R05|NRN3477B7N4FYW8B2|smoke-lh-01',
  'R05|NR10XB9MLMREGGM7R|smoke-smx-01',
  'R05|NR6J4CF3WFHPRDY25|smoke-kf-01',
  'R05|NRCNCZVY6RRDY6AGJ|smoke-zz-01',
];
const R01_IDS = [
  'R01|LZZJ5ACA5AF110265|2026-03-20',
  'R01|LGABWSXZ79D742275|2026-03-10',
  'R01|LZZJ5ACA5AF110265|2026-03-05',
  'R01|LFWD2ZPZ9BA158472|2026-03-02',
];
const R02 = (vin, zone, sighting) => `R02|${vin}|${zone}|observation:${sighting}`;
// Newest first by evidence time (a sighting's R01 and R02 share it).
const R14_ID = 'R14|LRDS3D9J9GG887446|91410800MA45SAMP2Y|2026-11-10';
const ALL_IDS = [
  R14_ID,
  ...R05_IDS,
  R01_IDS[0],
  R02('LFWLBN777SC254138', 'zz-4ring-trucks-day', 'cam-zz-04'),
  R02('LZZCJC3V3JF800454', 'zz-4ring-trucks-day', 'cam-zz-02'),
  R01_IDS[1],
  R02('LGABWSXZ79D742275', 'xc-cn3-roads', 'cam-xc-01'),
  R01_IDS[2],
  R02('LZZJ5ACA5AF110265', 'zz-4ring-cn3', 'cam-zz-01'),
  R02('LZZJ5ACA5AF110265', 'zz-4ring-trucks-day', 'cam-zz-01'),
  R02('LFWD2ZPZ9BA158472', 'zz-4ring-cn3', 'gate-zz-02'),
  R02('LFWD2ZPZ9BA158472', 'zz-4ring-trucks-day', 'gate-zz-02'),
  R01_IDS[3],
  R02('LFWD2ZPZ9BA158472', 'zz-4ring-cn3', 'gate-zz-01'),
  R02('LFWD2ZPZ9BA158472', 'zz-4ring-trucks-day', 'gate-zz-01'),
  R02('LZZJ5ACA5AF110265', 'zz-4ring-cn3', 'cam-zz-03'),
  R02('LZZJ5ACA5AF110265', 'zz-4ring-trucks-day', 'cam-zz-03'),
];
const ZONES = 6;  // samples/zones-henan-sample.geojson
const AREAS = 6;  // samples/areas-henan-sample.geojson: five cities and 中牟县 (of 郑州)
// The tile server of the --tiles run; the test answers its requests with TILE_PNG.
const TILE_ORIGIN = 'https://tiles.example.test';
const TILE_PATH = /^\/(\d+)\/(\d+)\/(\d+)\.png$/;
const TILE_ATTRIBUTION = 'Test tiles';
const TILE_PNG = Buffer.from(  // one light grey pixel (#e9ecef), stretched over each tile
  'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAIAAACQd1PeAAAADElEQVR42mN4+eY9AAWGAsXHTzQGAAAAAElFTkSuQmCC', 'base64');
const REVIEWED = 'R05|NRCNCZVY6RRDY6AGJ|smoke-zz-01';
const REVIEWED_SITE = '郑州东区工地';
const COMMENT = '现场照片清晰，林格曼黑度 3 级，确认违规（浏览器测试）';

let passed = 0;
let browser;

function finish(code, message) {
  if (message) console.error(message);
  console.log(`${passed} passed, ${code === 0 ? 0 : 1} failed`);
  process.exit(code);
}

// The hard timeout: the test can never hang (process.exit also ends the browser it launched).
const timer = setTimeout(() => finish(1, `FAIL: hard timeout after ${HARD_TIMEOUT_MS / 1000} s`), HARD_TIMEOUT_MS);

function assert(condition, message) {
  if (!condition) throw new Error(message);
}

function assertEqual(actual, expected, what) {
  const a = JSON.stringify(actual);
  const e = JSON.stringify(expected);
  if (a !== e) throw new Error(`${what}: expected ${e}, got ${a}`);
}

async function check(name, fn) {
  try {
    await fn();
  } catch (error) {
    throw new Error(`FAIL: ${name}: ${error.message.split('\n')[0]}`);
  }
  passed += 1;
  console.log(`ok ${passed} - ${name}`);
}

// --- page helpers --------------------------------------------------------------------------------

const rowIds = (page) =>
  page.$$eval('#violations-table tbody tr[data-id]', (rows) => rows.map((r) => r.dataset.id));

// Paths Leaflet drew into the overlay pane's SVG, by class.
const pathCount = (page, cls) => page.locator(`#map .leaflet-overlay-pane svg path.${cls}`).count();

// Runs a step that reloads the list and waits for it to be drawn.
async function reloadList(page, step) {
  await page.$eval('#violations-table', (t) => { t.dataset.state = 'stale'; });
  await step();
  await page.waitForSelector('#violations-table[data-state="ready"]');
}

async function bannerText(page) {
  return (await page.isVisible('#error-banner')) ? page.textContent('#error-text') : '';
}

async function logIn(page, secret) {
  await page.fill('#token-input', secret);
  await page.click('#login-button');
  await page.waitForSelector('#app-view:not([hidden])');
}

// An administrative area's name on the map, by its text.
const areaLabel = (page, name) => page.locator('#map .leaflet-areaLabels-pane .area-label', { hasText: name });

// Waits for the end of a zoom animation in progress (a fitBounds).
const mapSettled = (page) => page.waitForFunction(() => !document.querySelector('#map .leaflet-zoom-anim'));

// Moves the map without animation (zoomend fires at once, so the labels are switched on return),
// after any zoom animation in progress (its end would set its own zoom again).
async function setView(page, lat, lon, zoom) {
  await mapSettled(page);
  const reached = await page.evaluate(([a, o, z]) => window.__lantianMap.setView([a, o], z, { animate: false }).getZoom(),
    [lat, lon, zoom]);
  assertEqual(reached, zoom, 'map zoom');
}

// [lat, lng] of the layers on the map with a class: a marker's position, a polygon's first vertex.
const layerLatLngs = (page, cls) => page.evaluate((c) => {
  const found = [];
  window.__lantianMap.eachLayer((layer) => {
    if (!String((layer.options && layer.options.className) || '').split(' ').includes(c)) return;
    let at = layer.getLatLng ? layer.getLatLng() : layer.getLatLngs();
    while (Array.isArray(at)) [at] = at;
    found.push([at.lat, at.lng]);
  });
  return found;
}, cls);

// An API answer read in the page with the token.
const apiGet = (page, path, secret) => page.evaluate(async ([p, t]) => {
  const answer = await fetch(p, { headers: { Authorization: `Bearer ${t}` } });
  if (!answer.ok) throw new Error(`GET ${p} answered ${answer.status}`);
  return answer.json();
}, [path, secret]);

// WGS-84 → GCJ-02 from the published formula (Krasovsky ellipsoid), written apart from the
// console's so that a mistake in one is not repeated in the other. [lon, lat] in and out.
function gcj02(lon, lat) {
  if (!(lon >= 72.004 && lon <= 137.8347 && lat >= 0.8293 && lat <= 55.8271)) return [lon, lat];
  const A = 6378245.0;
  const EE = 0.00669342162296594323;
  const x = lon - 105;
  const y = lat - 35;
  const s = (k) => Math.sin(k * Math.PI);
  const both = ((20 * s(6 * x) + 20 * s(2 * x)) * 2) / 3;
  const north = -100 + 2 * x + 3 * y + 0.2 * y * y + 0.1 * x * y + 0.2 * Math.sqrt(Math.abs(x)) + both +
    ((20 * s(y) + 40 * s(y / 3)) * 2) / 3 + ((160 * s(y / 12) + 320 * s(y / 30)) * 2) / 3;
  const east = 300 + x + 2 * y + 0.1 * x * x + 0.1 * x * y + 0.1 * Math.sqrt(Math.abs(x)) + both +
    ((20 * s(x) + 40 * s(x / 3)) * 2) / 3 + ((150 * s(x / 12) + 300 * s(x / 30)) * 2) / 3;
  const phi = (lat * Math.PI) / 180;
  const w = 1 - EE * Math.sin(phi) ** 2;
  const meridian = (A * (1 - EE)) / (w * Math.sqrt(w));  // radii of curvature, metres
  const parallel = (A / Math.sqrt(w)) * Math.cos(phi);
  return [lon + ((east / parallel) * 180) / Math.PI, lat + ((north / meridian) * 180) / Math.PI];
}

// Metres between two [lat, lon] points a few kilometres apart at most.
const metres = ([lat1, lon1], [lat2, lon2]) =>
  Math.hypot((lat2 - lat1) * 110574, (lon2 - lon1) * 111320 * Math.cos((lat1 * Math.PI) / 180));

// Every expected point (WGS-84 [lon, lat]) is drawn at its GCJ-02 position, to within 1e-6°, and
// that lies hundreds of metres from the WGS-84 one: drawn unconverted, the check fails.
function assertShifted(drawn, expectedLonLats, what) {
  assertEqual(drawn.length, expectedLonLats.length, `${what} drawn`);
  for (const [lon, lat] of expectedLonLats) {
    const [glon, glat] = gcj02(lon, lat);
    const near = drawn.find(([a, o]) => Math.abs(a - glat) < 1e-6 && Math.abs(o - glon) < 1e-6);
    assert(near, `${what}: nothing drawn at the GCJ-02 position ${glat}, ${glon} of ${lat}, ${lon}`);
    const shift = metres([lat, lon], [glat, glon]);
    assert(shift > 100 && shift < 1000, `${what}: GCJ-02 shift of ${shift.toFixed(0)} m at ${lat}, ${lon}`);
  }
}

const firstPosition = (geometry) => {
  let at = geometry.coordinates;
  while (Array.isArray(at[0])) [at] = at;
  return at;
};

async function openBrowser() {
  browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] });
}

async function newPage() {
  const context = await browser.newContext({
    ignoreHTTPSErrors: true,
    viewport: { width: 1600, height: 1000 },
    locale: 'zh-CN',
    acceptDownloads: true,
  });
  context.setDefaultTimeout(STEP_TIMEOUT_MS);
  const page = await context.newPage();
  const pageErrors = [];
  page.on('pageerror', (error) => pageErrors.push(error.message));
  // What the Content-Security-Policy refused (tiles from a host it does not admit).
  const refused = [];
  page.on('console', (message) => {
    if (message.text().includes('Content Security Policy')) refused.push(message.text());
  });
  // Every request that leaves lantiand (offline: none may).
  const elsewhere = [];
  const origin = new URL(url).origin;
  page.on('request', (request) => {
    const target = request.url();
    if (/^https?:/.test(target) && new URL(target).origin !== origin) elsewhere.push(target);
  });
  return { context, page, pageErrors, elsewhere, refused };
}

// --- the test ------------------------------------------------------------------------------------

async function run() {
  await openBrowser();
  const { page, pageErrors, elsewhere } = await newPage();

  await check('the console loads with the login form', async () => {
    const response = await page.goto(url, { waitUntil: 'load' });
    assert(response && response.ok(), `GET ${url} answered ${response && response.status()}`);
    await page.waitForSelector('#token-input');
    assertEqual(await page.textContent('#login-button'), '登录', 'login button label');
    assert(await page.evaluate(() => typeof window.L === 'object'), 'Leaflet is not loaded');
  });

  await check('a wrong token shows the API error message', async () => {
    await page.fill('#token-input', 'lt_not_a_real_token');
    await page.click('#login-button');
    await page.waitForSelector('#login-error:not([hidden])');
    const text = await page.textContent('#login-error');
    assert(text.includes('unknown token') && text.includes('401'), `login error text: ${text}`);
  });

  await check('the reviewer token logs in', async () => {
    await page.fill('#token-input', token);
    await page.click('#login-button');
    await page.waitForSelector('#app-view:not([hidden])');
    assertEqual(await page.getAttribute('#user-role', 'data-role'), 'reviewer', 'role');
    assertEqual(await page.textContent('#user-role'), '审核人员', 'role label');
    assertEqual(await page.evaluate(() => sessionStorage.getItem('lantian.token')), token, 'stored token');
  });

  await check('the live feed of new violations connects', async () => {
    await page.waitForFunction(
      () => document.getElementById('live-feed').textContent.includes('已连接'), null, { timeout: 10000 });
  });

  await check(`the list shows all ${ALL_IDS.length} violations, newest first`, async () => {
    await page.waitForSelector('#violations-table[data-state="ready"]');
    assertEqual(await rowIds(page), ALL_IDS, 'rows');
  });

  await check(`the map draws the ${ZONES} zones and a marker per listed violation`, async () => {
    await page.waitForFunction((n) =>
      document.querySelectorAll('#map .leaflet-overlay-pane svg path.zone-polygon').length === n, ZONES);
    assertEqual(await pathCount(page, 'zone-polygon'), ZONES, 'zone polygons');
    assertEqual(await pathCount(page, 'violation-marker'), ALL_IDS.length, 'violation markers');
    assertEqual(await page.locator('#map .leaflet-tile-pane img').count(), 0, 'tile images');
  });

  await check(`without tiles the map draws the ${AREAS} administrative areas with their names`, async () => {
    await page.waitForSelector('#map[data-areas]');
    assertEqual(await page.getAttribute('#map', 'data-tiles'), 'none', 'tile layer');
    assertEqual(await page.getAttribute('#map', 'data-areas'), String(AREAS), 'areas loaded');
    assertEqual(await page.locator('#map .leaflet-areas-pane svg path.area-polygon').count(), AREAS, 'area outlines');
    assertEqual(await page.locator('#map .leaflet-areas-pane svg path.area-county').count(), 1, 'county outlines');
    assertEqual(await page.locator('#map .leaflet-areaLabels-pane .area-label').count(), AREAS, 'area labels');
    // Low zoom: city names only.
    await setView(page, 34.3, 113.2, 7);
    assert(await areaLabel(page, '郑州市').isVisible(), '郑州市 is not shown at zoom 7');
    assert(await areaLabel(page, '洛阳市').isVisible(), '洛阳市 is not shown at zoom 7');
    assert(!(await areaLabel(page, '中牟县').isVisible()), '中牟县 is shown at zoom 7');
    // Zoomed in: 中牟县 replaces 郑州市, whose county it is; 洛阳 has none loaded and keeps its name.
    await setView(page, 34.65, 113.95, 10);
    assert(await areaLabel(page, '中牟县').isVisible(), '中牟县 is not shown at zoom 10');
    assert(!(await areaLabel(page, '郑州市').isVisible()), '郑州市 is still shown at zoom 10');
    assert(await areaLabel(page, '洛阳市').isVisible(), '洛阳市 is not shown at zoom 10');
    assert((await page.textContent('#map-note')).includes('无底图'), 'the note does not say the map is offline');
    await setView(page, 34.3, 113.2, 8);
  });

  await check('paging: 10 per page, 下一页 and 首页', async () => {
    await reloadList(page, () => page.selectOption('#filter-limit', '10'));
    assertEqual(await rowIds(page), ALL_IDS.slice(0, 10), 'page 1');
    assert(await page.isEnabled('#next-page'), '下一页 is disabled on page 1');
    assertEqual(await page.textContent('#next-page'), '下一页', 'next button label');
    await reloadList(page, () => page.click('#next-page'));
    assertEqual(await rowIds(page), ALL_IDS.slice(10, 20), 'page 2');
    await reloadList(page, () => page.click('#first-page'));
    assertEqual(await rowIds(page), ALL_IDS.slice(0, 10), 'back on page 1');
  });

  await check('filtering by rule R05 shows exactly the 8 smoke violations', async () => {
    await page.selectOption('#filter-rule', 'R05');
    await reloadList(page, () => page.selectOption('#filter-limit', '50'));
    assertEqual(await rowIds(page), R05_IDS, 'R05 rows');
    const rules = await page.$$eval('#violations-table tbody tr[data-id] td:nth-child(2)', (c) => c.map((x) => x.textContent));
    assert(rules.every((r) => r === 'R05'), `rule column: ${rules}`);
    assertEqual(await pathCount(page, 'violation-marker'), R05_IDS.length, 'violation markers');
    assertEqual(await pathCount(page, 'zone-polygon'), ZONES, 'zone polygons');
  });

  // A violation belongs to the city where it was seen (its zone's), else where the vehicle is
  // registered: the three 许昌 machines were checked in 郑州's ban zone, so 郑州 has them.
  await check('more filters: city 郑州 and R05 gives 4 rows, 许昌 1; a malformed plate shows the API error', async () => {
    await page.fill('#filter-city', '郑州');
    await reloadList(page, () => page.click('#search-button'));
    assertEqual(await rowIds(page), [R05_IDS[0], R05_IDS[1], R05_IDS[2], R05_IDS[7]], '郑州 R05 rows');
    await page.fill('#filter-city', '许昌');
    await reloadList(page, () => page.click('#search-button'));
    assertEqual(await rowIds(page), [R05_IDS[3]], '许昌 R05 rows');
    await page.fill('#filter-city', '');
    await page.fill('#filter-vehicle', '豫Z=0000');
    await page.click('#search-button');
    await page.waitForSelector('#error-banner:not([hidden])');
    const text = await bannerText(page);
    assert(text.includes("the plate holds the character U+003D ('=')"), `banner: ${text}`);
    await page.fill('#filter-vehicle', '');
    await reloadList(page, () => page.click('#search-button'));
    assertEqual(await rowIds(page), R05_IDS, 'R05 rows again');
    assert(!(await page.isVisible('#error-banner')), 'the error banner stays after a good query');
  });

  await check('export downloads the CSV of the same filters', async () => {
    const [download] = await Promise.all([page.waitForEvent('download'), page.click('#export-button')]);
    const text = await readFile(await download.path(), 'utf8');
    assert(text.startsWith('\uFEFFid,rule,'), 'no BOM and header');
    const lines = text.trim().split(/\r\n/);
    assertEqual(lines.length, 1 + R05_IDS.length, 'CSV lines');
    assert(lines.slice(1).every((l) => l.split(',')[1] === 'R05'), 'CSV rows are not all R05');
  });

  await check('opening a violation shows its detail and evidence', async () => {
    await page.click(`#violations-table tbody tr[data-id="${REVIEWED}"]`);
    await page.waitForSelector(`#violation-detail[data-state="ready"][data-id="${REVIEWED}"]`);
    assert((await page.textContent('#detail-rule')).startsWith('R05'), 'rule');
    assertEqual(await page.getAttribute('#detail-status', 'data-status'), 'open', 'status before review');
    const evidence = await page.textContent('#evidence');
    assert(evidence.includes(REVIEWED_SITE), `evidence lacks the site ${REVIEWED_SITE}`);
    assert(evidence.includes('3 级') && evidence.includes('img/smoke-zz-01.jpg'), 'ringelmann or image');
    assertEqual(await page.locator('#evidence [data-testid="evidence-observation"]').count(), 1, 'observations');
  });

  await check('the map highlights the violation among the zones', async () => {
    assertEqual(await pathCount(page, 'violation-highlight'), 1, 'highlight');
    assertEqual(await pathCount(page, 'evidence-point'), 1, 'evidence points');
    assertEqual(await pathCount(page, 'zone-polygon'), ZONES, 'zone polygons');
    assertEqual(await pathCount(page, 'violation-marker'), R05_IDS.length, 'violation markers');
    const selected = await page.$eval('#violations-table tr.selected', (r) => r.dataset.id);
    assertEqual(selected, REVIEWED, 'selected row');
  });

  await check('the reviewer confirms it with a comment', async () => {
    assert(await page.isVisible('#review-confirm'), '确认 is not shown to a reviewer');
    assertEqual(await page.textContent('#review-confirm'), '确认', 'confirm label');
    await page.click('#review-confirm');  // without a comment: refused before asking the API
    assert((await page.textContent('#review-message')).includes('审核意见'), 'empty comment accepted');
    await page.fill('#review-comment', COMMENT);
    await page.click('#review-confirm');
    await page.waitForSelector('#detail-status[data-status="confirmed"]');
    assert((await page.textContent('#detail-status')).includes('已确认'), 'status label');
    assert((await page.textContent('#review-message')).includes('已确认'), 'review message');
    assert((await page.textContent('#review-history')).includes(COMMENT), 'review history');
    const rowStatus = await page.textContent(`#violations-table tbody tr[data-id="${REVIEWED}"] td:nth-child(4)`);
    assertEqual(rowStatus, '已确认', 'status in the list');
    const stored = await page.evaluate(async ([id, t]) => {
      const r = await fetch(`/api/v1/violations/${encodeURIComponent(id)}`, { headers: { Authorization: `Bearer ${t}` } });
      return (await r.json()).violation;
    }, [REVIEWED, token]);
    assertEqual([stored.status, stored.review && stored.review.comment], ['confirmed', COMMENT], 'stored review');
  });

  await check('the screenshot is saved', async () => {
    await mapSettled(page);
    await page.screenshot({ path: screenshotPath, fullPage: true });
    const png = await readFile(screenshotPath);
    assert(png.subarray(1, 4).toString() === 'PNG' && png.length > 10000, 'not a PNG');
  });

  await check('the status filter finds the confirmed violation', async () => {
    await page.selectOption('#filter-status', 'confirmed');
    await reloadList(page, () => page.click('#search-button'));
    assertEqual(await rowIds(page), [REVIEWED], 'confirmed rows');
  });

  await check('the vehicle page shows the record and open violations', async () => {
    await page.click('#violation-detail a.vehicle-link');
    await page.waitForSelector('#vehicle-detail[data-state="ready"][data-vin="NRCNCZVY6RRDY6AGJ"]');
    const fields = await page.textContent('#vehicle-fields');
    assert(fields.includes('装载机') && fields.includes('许昌'), `vehicle fields: ${fields}`);
    assertEqual(await page.textContent('#vehicle-online'), '离线', 'online state');
    // Its other smoke observation was below the limit: no open violation is left after the review.
    assertEqual(await page.locator('#vehicle-violations tbody tr[data-id]').count(), 0, 'open violations');
    await page.click('#track-button');
    await page.waitForFunction(() => document.querySelector('#track-info').textContent.includes('没有有效定位'));
  });

  // 焦作's steel works in November: four bulk entries, two by 国六 trucks (50 %); on the alert
  // days one entry of two against the policy (a 国四 truck), raising R14 with the gate photo.
  await check('the enterprise page shows each enterprise\'s clean-transport share', async () => {
    await page.click('#tab-enterprises');
    await page.waitForSelector('#enterprise-table[data-state="ready"]');
    await page.fill('#stats-month', '2026-11');
    await page.click('#stats-button');
    await page.waitForFunction(() => document.querySelector('#enterprise-table').dataset.state === 'ready'
      && document.querySelector('#stats-info').textContent.includes('大宗进厂 4 车次'));
    assertEqual(await page.locator('#enterprise-table tbody tr[data-id]').count(), 5, 'enterprise rows');
    const cells = await page.$$eval('#enterprise-table tbody tr[data-id="91410800MA45SAMP2Y"] td', (c) => c.map((x) => x.textContent));
    assertEqual(cells, ['焦作某钢铁有限公司', '焦作', '钢铁', 'A', '4', '50.0%', '未达标', '50.0%'], '焦作 row');
  });

  await check('the alert calendar marks 焦作\'s orange alert on 10 and 11 November', async () => {
    const marked = await page.$$eval('#alert-calendar .day', (days) =>
      days.filter((d) => d.dataset.alerts !== '0').map((d) => `${d.dataset.date} ${d.querySelector('.alert').textContent}`));
    assertEqual(marked, ['2026-11-10 焦作 橙色', '2026-11-11 焦作 橙色'], 'alert days');
  });

  await check('an enterprise shows its monthly chart and each R14 with its gate photo', async () => {
    await page.click('#enterprise-table tbody tr[data-id="91410800MA45SAMP2Y"]');
    await page.waitForSelector('#enterprise-detail[data-state="ready"]');
    const bars = await page.$$eval('#enterprise-chart svg rect.bar', (r) => r.map((x) => [x.dataset.month, x.dataset.share]));
    assertEqual(bars.length, 12, 'months in the chart');
    assertEqual(bars[11], ['2026-11', '0.5'], 'November bar');
    assertEqual(bars[10], ['2026-10', ''], 'October bar (no entries)');
    assertEqual(await page.locator('#enterprise-chart svg line.target').count(), 1, 'target line');
    const r14 = await page.$$eval('#enterprise-r14 tbody tr[data-id] td', (c) => c.map((x) => x.textContent));
    assertEqual(r14, ['2026-11-10 07:00:00', '豫A41640', 'CN4', 'CN5', '橙色', 'gate/main/20261110-0700.jpg'], 'R14 row');
  });

  await check('the R14 detail shows the gate record it rests on', async () => {
    await page.click(`#enterprise-r14 tbody tr[data-id="${R14_ID}"]`);
    await page.waitForSelector(`#violation-detail[data-state="ready"][data-id="${R14_ID}"]`);
    assertEqual(await page.textContent('#detail-enterprise'), '91410800MA45SAMP2Y', 'enterprise');
    assertEqual(await page.locator('#evidence [data-testid="evidence-gate"]').count(), 1, 'gate records');
    assertEqual(await page.textContent('#evidence .gate-image'), 'gate/main/20261110-0700.jpg', 'photo');
  });

  await check('退出 clears the token', async () => {
    await page.click('#logout-button');
    await page.waitForSelector('#login-view:not([hidden])');
    assertEqual(await page.evaluate(() => sessionStorage.getItem('lantian.token')), null, 'stored token');
  });

  await check('an admin sees each enforcement system with its delivery status', async () => {
    await page.fill('#token-input', adminToken);
    await page.click('#login-button');
    await page.waitForSelector('#sharing-view:not([hidden])');
    assertEqual(await page.getAttribute('#user-role', 'data-role'), 'admin', 'role');
    const status = await page.evaluate(async (t) => {
      const answer = await fetch('/api/v1/subscribers', {
        method: 'POST',
        headers: { Authorization: `Bearer ${t}`, 'Content-Type': 'application/json' },
        body: JSON.stringify({
          name: '郑州市公安局交警支队', url: 'https://127.0.0.1:9/hook', secret: 'browser-test-secret-0001',
          cities: ['郑州'], rules: ['R01', 'R05'], min_severity: 'medium',
        }),
      });
      return answer.status;
    }, adminToken);
    assertEqual(status, 201, 'subscriber registered');
    await page.click('#sharing-refresh');
    await page.waitForSelector('#subscriber-table[data-state="ready"]');
    const cells = await page.$$eval('#subscriber-table tbody tr td', (c) => c.map((x) => x.textContent));
    assertEqual(cells, ['郑州市公安局交警支队', 'https://127.0.0.1:9/hook', '郑州；R01、R05；中及以上',
      '0', '0', '0', '—', '—', '启用'], 'subscriber row');
    await page.click('#logout-button');
    await page.waitForSelector('#login-view:not([hidden])');
  });

  await check('no request left lantiand (no tile server without --map-tiles)', async () => {
    assertEqual(elsewhere, [], 'requests elsewhere');
    assertEqual(await page.locator('#map .leaflet-tile-pane img').count(), 0, 'tile images');
  });

  await check('no script error on the page', async () => {
    assertEqual(pageErrors, [], 'page errors');
  });
}

// The console over a GCJ-02 tile layer whose tiles the test serves.
async function runTiles() {
  await openBrowser();
  const { context, page, pageErrors, refused } = await newPage();
  const tileRequests = [];
  await context.route(`${TILE_ORIGIN}/**`, (route) => {
    tileRequests.push(route.request().url());
    return route.fulfill({ status: 200, contentType: 'image/png', body: TILE_PNG });
  });

  await check('the reviewer logs in; the map has a GCJ-02 tile layer', async () => {
    const response = await page.goto(url, { waitUntil: 'load' });
    assert(response && response.ok(), `GET ${url} answered ${response && response.status()}`);
    await logIn(page, token);
    await page.waitForSelector('#map[data-tiles]');
    assertEqual(await page.getAttribute('#map', 'data-tiles'), 'gcj02', 'tile layer');
    await page.waitForSelector('#violations-table[data-state="ready"]');
    await page.waitForSelector('#map[data-areas]');
  });

  await check('tiles are requested with integer z/x/y and drawn', async () => {
    const loaded = () => document.querySelectorAll('#map .leaflet-tile-pane img.leaflet-tile-loaded').length > 0;
    await page.waitForFunction(loaded).catch(() => {});
    assert(tileRequests.length > 0, `no tile request${refused.length ? `; refused: ${refused[0]}` : ''}`);
    await page.waitForFunction(loaded);
    for (const target of tileRequests) {
      const parsed = new URL(target);
      const match = parsed.origin === TILE_ORIGIN && TILE_PATH.exec(parsed.pathname);
      assert(match, `tile request ${target}`);
      const [z, x, y] = match.slice(1).map(Number);
      assert(z >= 5 && z <= 18 && x < 2 ** z && y < 2 ** z, `tile ${z}/${x}/${y} out of range`);
    }
    // 郑州 (113.65° E, 34.75° N) lies in tile 8/208/102: Henan is in view.
    await setView(page, ...gcj02(113.65, 34.75).reverse(), 8);
    await page.waitForFunction(() => [...document.querySelectorAll('#map .leaflet-tile-pane img.leaflet-tile-loaded')]
      .some((img) => img.src.endsWith('/8/208/102.png')));
  });

  await check(`the attribution shows "${TILE_ATTRIBUTION}"`, async () => {
    assert((await page.textContent('#map .leaflet-control-attribution')).includes(TILE_ATTRIBUTION), 'attribution');
  });

  await check('areas, zones and violations are drawn over the tiles', async () => {
    assertEqual(await page.getAttribute('#map', 'data-areas'), String(AREAS), 'areas loaded');
    assertEqual(await page.locator('#map .leaflet-areas-pane svg path.area-polygon').count(), AREAS, 'area outlines');
    assertEqual(await pathCount(page, 'zone-polygon'), ZONES, 'zone polygons');
    assertEqual(await pathCount(page, 'violation-marker'), ALL_IDS.length, 'violation markers');
  });

  await check('violations, zones and areas are placed at their GCJ-02 positions', async () => {
    const { items } = await apiGet(page, '/api/v1/violations?limit=100', token);
    assertEqual(items.length, ALL_IDS.length, 'violations listed');
    assertShifted(await layerLatLngs(page, 'violation-marker'), items.map((v) => [v.lon, v.lat]), 'violation markers');
    const zones = await apiGet(page, '/api/v1/zones', token);
    assertShifted(await layerLatLngs(page, 'zone-polygon'), zones.features.map((f) => firstPosition(f.geometry)), 'zone outlines');
    const areas = await apiGet(page, '/api/v1/areas', token);
    assertShifted(await layerLatLngs(page, 'area-polygon'), areas.features.map((f) => firstPosition(f.geometry)), 'area outlines');
  });

  await check('the violation shown in detail is highlighted at its GCJ-02 position', async () => {
    await page.click(`#violations-table tbody tr[data-id="${REVIEWED}"]`);
    await page.waitForSelector(`#violation-detail[data-state="ready"][data-id="${REVIEWED}"]`);
    const { violation, observations } = await apiGet(page, `/api/v1/violations/${encodeURIComponent(REVIEWED)}`, token);
    assertShifted(await layerLatLngs(page, 'violation-highlight'), [[violation.lon, violation.lat]], 'highlight');
    assertShifted(await layerLatLngs(page, 'evidence-point'), observations.map((o) => [o.lon, o.lat]), 'evidence points');
  });

  await check('the screenshot over tiles is saved', async () => {
    await mapSettled(page);
    await page.screenshot({ path: screenshotPath, fullPage: true });
    const png = await readFile(screenshotPath);
    assert(png.subarray(1, 4).toString() === 'PNG' && png.length > 10000, 'not a PNG');
  });

  await check('an unreachable tile server leaves the vector layers drawn', async () => {
    const offline = await newPage();
    await offline.context.route(`${TILE_ORIGIN}/**`, (route) => route.abort('connectionrefused'));
    await offline.page.goto(url, { waitUntil: 'load' });
    await logIn(offline.page, token);
    await offline.page.waitForSelector('#violations-table[data-state="ready"]');
    await offline.page.waitForSelector('#map[data-tile-errors]');
    await offline.page.waitForSelector('#map[data-areas]');
    assertEqual(await offline.page.getAttribute('#map', 'data-areas'), String(AREAS), 'areas loaded');
    assertEqual(await pathCount(offline.page, 'zone-polygon'), ZONES, 'zone polygons');
    assertEqual(await pathCount(offline.page, 'violation-marker'), ALL_IDS.length, 'violation markers');
    assert((await offline.page.textContent('#map-note')).includes('底图服务暂不可用'), 'the note does not tell');
    assertEqual(offline.pageErrors, [], 'page errors');
    await offline.context.close();
  });

  await check('no script error on the page', async () => {
    assertEqual(pageErrors, [], 'page errors');
  });
}

try {
  await (tilesMode ? runTiles() : run());
  clearTimeout(timer);
  await browser.close();
  finish(0);
} catch (error) {
  clearTimeout(timer);
  if (browser) await browser.close().catch(() => {});
  finish(1, error.message.startsWith('FAIL') ? error.message : `FAIL: ${error.stack || error.message}`);
}
