// Redirect URI of the bilirubin chart (docs/architecture.md §3). Completes the SMART authorization with
// fhirclient, reads the patient and its transcutaneous bilirubin Observations, plots them over the
// hour-specific risk zones and, when the granted scopes allow writing, lets the user add one
// (reference: docs/hspc-compatibility.md §2, what the original HSPC app did).
import { birthInstant, chartLayout, HOURS_MAX, MG_DL_MAX, riskZone, ZONES, bilirubinReadings, zonePolygons } from './chart-math.js';
import {
  canWriteObservations,
  describeError,
  LOINC_TRANSCUTANEOUS_BILIRUBIN,
  newBilirubinObservation,
  patientName,
  readMeasurement,
} from './bili-fhir.js';

const SVG_NS = 'http://www.w3.org/2000/svg';
const CHART_WIDTH = 760;
const CHART_HEIGHT = 420;

const $ = (id) => document.getElementById(id);
const statusLine = $('status');
const errorBox = $('error');

function showError(text) {
  statusLine.hidden = true;
  errorBox.textContent = text;
  errorBox.hidden = false;
}

function clearError() {
  errorBox.textContent = '';
  errorBox.hidden = true;
}

function svg(name, attrs = {}, parent) {
  const el = document.createElementNS(SVG_NS, name);
  for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, String(v));
  if (parent) parent.appendChild(el);
  return el;
}

const dateTimeFormat = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeStyle: 'short' });
const dateFormat = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeZone: 'UTC' });
const fmtNumber = (n, digits) => (Math.round(n * 10 ** digits) / 10 ** digits).toString();
const zoneLabel = (name) => ZONES.find((z) => z.name === name)?.label ?? 'Outside the nomogram (before 12 h or after 168 h)';

/** "YYYY-MM-DDTHH:MM" in the browser's local time, the format of <input type="datetime-local">. */
function localInputValue(ms) {
  const d = new Date(ms);
  const p = (n) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}T${p(d.getHours())}:${p(d.getMinutes())}`;
}

function renderBanner(patient, birth, show) {
  $('banner-name').textContent = patientName(patient);
  $('banner-gender').textContent = patient.gender ?? 'unknown';
  $('banner-birth').textContent = birth
    ? birth.precise
      ? dateTimeFormat.format(new Date(birth.ms))
      : dateFormat.format(new Date(birth.ms))
    : (patient.birthDate ?? 'unknown');
  $('banner').hidden = !show;
}

function renderChart(points) {
  const chart = $('chart');
  const layout = chartLayout(CHART_WIDTH, CHART_HEIGHT);
  const { plot } = layout;
  chart.replaceChildren();
  chart.setAttribute('viewBox', `0 0 ${CHART_WIDTH} ${CHART_HEIGHT}`);

  const zones = svg('g', { class: 'zones' }, chart);
  for (const z of zonePolygons(layout)) {
    const poly = svg('polygon', { class: `zone zone-${z.name}`, points: z.points }, zones);
    svg('title', {}, poly).textContent = z.label;
  }

  const grid = svg('g', { class: 'grid', 'aria-hidden': 'true' }, chart);
  for (const h of layout.xTicks) {
    svg('line', { x1: layout.x(h), x2: layout.x(h), y1: plot.top, y2: plot.bottom }, grid);
    svg('text', { x: layout.x(h), y: plot.bottom + 18, class: 'tick tick-x' }, grid).textContent = String(h);
  }
  for (const v of layout.yTicks) {
    svg('line', { x1: plot.left, x2: plot.right, y1: layout.y(v), y2: layout.y(v) }, grid);
    svg('text', { x: plot.left - 8, y: layout.y(v) + 4, class: 'tick tick-y' }, grid).textContent = String(v);
  }
  svg('rect', { class: 'frame', x: plot.left, y: plot.top, width: plot.right - plot.left, height: plot.bottom - plot.top }, chart);
  svg('text', { class: 'axis-title', x: (plot.left + plot.right) / 2, y: CHART_HEIGHT - 8 }, chart).textContent =
    `Age (hours since birth, 0–${HOURS_MAX})`;
  svg('text', {
    class: 'axis-title',
    x: 0,
    y: 0,
    transform: `translate(16 ${(plot.top + plot.bottom) / 2}) rotate(-90)`,
  }, chart).textContent = `Bilirubin (mg/dL, 0–${MG_DL_MAX})`;

  const placed = points.map((p) => ({ p, ...layout.clamp(p.hours, p.value) }));
  if (placed.length > 1) svg('polyline', { class: 'trend', points: placed.map((q) => `${q.cx},${q.cy}`).join(' ') }, chart);
  const dots = svg('g', { class: 'points' }, chart);
  for (const q of placed) {
    const dot = svg('circle', {
      class: q.clamped ? 'point clamped' : 'point',
      cx: q.cx,
      cy: q.cy,
      r: 5,
      'data-testid': 'bili-point',
      'data-hours': fmtNumber(q.p.hours, 2),
      'data-value': fmtNumber(q.p.value, 2),
    }, dots);
    svg('title', {}, dot).textContent =
      `${fmtNumber(q.p.value, 1)} mg/dL at ${fmtNumber(q.p.hours, 1)} h` + (q.clamped ? ' (outside the chart axes, drawn at the edge)' : '');
  }
}

function renderLegend() {
  const legend = $('legend');
  legend.replaceChildren();
  for (const z of ZONES) {
    const li = document.createElement('li');
    const swatch = document.createElement('span');
    swatch.className = `swatch zone-${z.name}`;
    swatch.setAttribute('aria-hidden', 'true');
    li.append(swatch, ` ${z.label}`);
    legend.appendChild(li);
  }
}

function renderTable(points, skipped) {
  const body = $('values-body');
  body.replaceChildren();
  for (const p of points) {
    const tr = document.createElement('tr');
    const zone = riskZone(p.hours, p.value);
    const outside = p.hours > HOURS_MAX || p.value > MG_DL_MAX;
    const cells = [
      dateTimeFormat.format(new Date(p.at)),
      fmtNumber(p.hours, 1),
      fmtNumber(p.value, 1),
      zoneLabel(zone) + (outside ? ' — outside the chart axes, drawn at the edge' : ''),
    ];
    for (const text of cells) {
      const td = document.createElement('td');
      td.textContent = text;
      tr.appendChild(td);
    }
    if (zone) tr.className = `row-${zone}`;
    body.appendChild(tr);
  }
  $('empty').hidden = points.length > 0;
  $('values').hidden = points.length === 0;
  $('skipped').hidden = skipped === 0;
  $('skipped').textContent =
    skipped === 1
      ? '1 measurement is not shown: it has no time or mg/dL value, or was taken before birth.'
      : `${skipped} measurements are not shown: they have no time or mg/dL value, or were taken before birth.`;
}

async function loadObservations(client, patientId) {
  const url = `Observation?code=${LOINC_TRANSCUTANEOUS_BILIRUBIN}&patient=${encodeURIComponent(patientId)}&_count=50`;
  // flat: an array of entry resources; pageLimit 0: follow every "next" link.
  const resources = await client.request(url, { flat: true, pageLimit: 0 });
  return (Array.isArray(resources) ? resources : []).filter((r) => r && r.resourceType === 'Observation');
}

function setupForm(client, patientId, birth, refresh) {
  const form = $('add');
  const when = $('when');
  const value = $('value');
  const save = $('save');
  const addStatus = $('add-status');
  if (birth) when.min = localInputValue(birth.ms);
  form.hidden = false;
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const m = readMeasurement(when.value, value.value, birth ? birth.ms : null, (s) => new Date(s).getTime());
    if (m.error) {
      addStatus.textContent = m.error;
      addStatus.className = 'note invalid';
      (m.error.includes('value') ? value : when).focus();
      return;
    }
    save.disabled = true;
    addStatus.className = 'note';
    addStatus.textContent = 'Saving…';
    try {
      const created = await client.request({
        url: 'Observation',
        method: 'POST',
        headers: { 'content-type': 'application/fhir+json' },
        body: JSON.stringify(newBilirubinObservation(patientId, m.effectiveDateTime, m.value)),
      });
      clearError();
      await refresh(created && created.resourceType === 'Observation' ? created : null);
      addStatus.textContent = `Saved ${fmtNumber(m.value, 1)} mg/dL.`;
      value.value = '';
    } catch (err) {
      addStatus.textContent = 'Not saved.';
      addStatus.className = 'note invalid';
      showError(describeError(err, 'saving the measurement'));
    } finally {
      save.disabled = false;
    }
  });
}

async function main() {
  if (!window.FHIR?.oauth2) {
    showError('The SMART client library (fhir-client.min.js) did not load, so authorization cannot complete.');
    return;
  }
  let client;
  try {
    client = await window.FHIR.oauth2.ready();
  } catch (err) {
    showError(describeError(err, 'authorize-ready'));
    return;
  }
  const token = client.state.tokenResponse ?? {};
  const patientId = client.patient.id;
  if (!patientId) {
    showError('No patient in context: the launch did not select a patient. Relaunch the app with a patient.');
    return;
  }

  statusLine.textContent = 'Loading the patient…';
  let patient;
  try {
    patient = await client.request(`Patient/${encodeURIComponent(patientId)}`);
  } catch (err) {
    showError(describeError(err, 'reading the patient'));
    return;
  }
  const birth = birthInstant(patient);
  // SMART App Launch: need_patient_banner false means the EHR already shows one.
  renderBanner(patient, birth, token.need_patient_banner !== false);
  if (!birth) {
    showError('The patient has no birth date, so hours since birth cannot be computed.');
    return;
  }
  if (!birth.precise) {
    $('birth-note').textContent = 'The birth time is not recorded: ages are counted from the start of the birth date (00:00 UTC).';
    $('birth-note').hidden = false;
  }

  let observations = [];
  const render = () => {
    const { points, skipped } = bilirubinReadings(observations, birth.ms);
    renderChart(points);
    renderTable(points, skipped);
  };
  statusLine.textContent = 'Loading measurements…';
  try {
    observations = await loadObservations(client, patientId);
  } catch (err) {
    showError(describeError(err, 'searching the bilirubin observations'));
    return;
  }
  renderLegend();
  render();
  $('content').hidden = false;
  statusLine.textContent = `Showing ${observations.length} bilirubin observation${observations.length === 1 ? '' : 's'}.`;

  if (canWriteObservations(token.scope)) {
    setupForm(client, patientId, birth, async (created) => {
      try {
        observations = await loadObservations(client, patientId);
      } catch (err) {
        showError(describeError(err, 'reloading the bilirubin observations'));
      }
      // The server's answer is authoritative; the created resource is only added if the search
      // did not return it (e.g. the reload failed).
      if (created?.id && !observations.some((o) => o.id === created.id)) observations = [...observations, created];
      render();
      statusLine.textContent = `Showing ${observations.length} bilirubin observation${observations.length === 1 ? '' : 's'}.`;
    });
  }
}

main().catch((err) => showError(describeError(err, 'starting the app')));
