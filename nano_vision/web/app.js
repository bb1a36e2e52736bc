// The recorder's labelling page: live view, one button per category, click to
// label a point (XY datasets), undo, and a gallery with delete and restore.
'use strict';

const state = {task: 'classification', label: '', counts: {}, revision: -1, points: {}};
const $ = (id) => document.getElementById(id);

function showStatus(text, error) {
  $('status').textContent = text;
  $('status').className = error ? 'error' : '';
}

async function api(path, body) {
  const options = body === undefined ? {} : {
    method: 'POST', headers: {'Content-Type': 'application/json'},
    body: JSON.stringify(body)};
  const answer = await fetch(path, options);
  const data = await answer.json();
  // answers can arrive out of order: keep the counts of the newest revision
  if (data.counts && data.revision >= state.revision) {
    state.counts = data.counts;
    state.revision = data.revision;
    drawCategories();
  }
  if (data.ok === false) {
    showStatus(data.message, true);
  } else if (data.message) {
    showStatus(data.message, false);
  }
  return data;
}

function drawCategories() {
  const box = $('categories');
  box.replaceChildren();
  for (const [name, count] of Object.entries(state.counts)) {
    const button = document.createElement('button');
    button.type = 'button';
    button.dataset.category = name;
    button.textContent = `${name} (${count})`;
    if (name === state.label) button.className = 'current';
    button.addEventListener('click', () => onCategory(name));
    box.appendChild(button);
  }
  const select = $('gallery-label');
  const chosen = select.value;
  select.replaceChildren(new Option('every category', ''));
  for (const name of Object.keys(state.counts)) select.appendChild(new Option(name, name));
  select.value = chosen;
  $('hint').textContent = state.task === 'xy'
    ? (state.label ? `Click on the image to label ${state.label}.`
                   : 'Choose a category, then click on the image.')
    : 'Click a category to save the current frame with it.';
}

async function onCategory(name) {
  state.label = name;
  drawCategories();
  if (state.task !== 'xy') {
    const data = await api('/api/capture', {label: name});
    if (data.ok) loadGallery();
  }
  drawOverlay();
}

async function onImageClick(event) {
  if (state.task !== 'xy') return;
  if (!state.label) {
    showStatus('choose a category first', true);
    return;
  }
  const image = $('live');
  const rect = image.getBoundingClientRect();
  // normalised as in Keypoint.msg: -1 at the left/top edge, +1 at the right/bottom
  const x = 2 * (event.clientX - rect.left) / rect.width - 1;
  const y = 2 * (event.clientY - rect.top) / rect.height - 1;
  const data = await api('/api/capture', {label: state.label, x: x, y: y});
  if (data.ok) {
    state.points[state.label] = [x, y];
    drawOverlay();
    loadGallery();
  }
}

function drawOverlay() {
  const image = $('live');
  const canvas = $('overlay');
  canvas.width = image.clientWidth;
  canvas.height = image.clientHeight;
  const context = canvas.getContext('2d');
  context.clearRect(0, 0, canvas.width, canvas.height);
  for (const [name, [x, y]] of Object.entries(state.points)) {
    const u = (x + 1) / 2 * canvas.width;
    const v = (y + 1) / 2 * canvas.height;
    context.strokeStyle = name === state.label ? '#00e676' : '#ffeb3b';
    context.lineWidth = 2;
    context.beginPath();
    context.arc(u, v, 6, 0, 2 * Math.PI);
    context.stroke();
    context.fillStyle = context.strokeStyle;
    context.font = '12px sans-serif';
    context.fillText(name, u + 8, v - 8);
  }
}

function pollFrame() {
  // one request at a time: a slow link shows fewer frames instead of queueing them
  const image = $('live');
  const next = new Image();
  next.onload = () => {
    image.src = next.src;
    setTimeout(pollFrame, 100);
  };
  next.onerror = () => setTimeout(pollFrame, 500);
  next.src = `frame.jpg?t=${Date.now()}`;
}

async function loadGallery() {
  const trash = $('gallery-trash').checked;
  const label = $('gallery-label').value;
  const query = `trash=${trash ? 1 : 0}&label=${encodeURIComponent(label)}`;
  const data = await fetch(`api/samples?${query}`).then((r) => r.json());
  const box = $('gallery');
  box.replaceChildren();
  for (const file of (data.samples || []).slice(0, 200)) {
    const card = document.createElement('div');
    card.className = 'sample';
    card.dataset.file = file;
    const image = document.createElement('img');
    image.src = `${trash ? 'trash' : 'samples'}/${file.split('/').map(encodeURIComponent).join('/')}`;
    image.alt = file;
    image.loading = 'lazy';
    const name = document.createElement('span');
    name.textContent = file;
    const button = document.createElement('button');
    button.type = 'button';
    button.textContent = trash ? 'Restore' : 'Delete';
    button.addEventListener('click', async () => {
      const result = await api(trash ? '/api/restore' : '/api/delete', {file: file});
      if (result.ok) loadGallery();
    });
    card.append(image, name, button);
    box.appendChild(card);
  }
}

async function start() {
  const data = await api('/api/state');
  state.task = data.task;
  state.label = data.label || '';
  $('dataset').textContent = `${data.dataset} (${data.task})`;
  drawCategories();
  $('live').addEventListener('click', onImageClick);
  $('live').addEventListener('load', drawOverlay);
  $('undo').addEventListener('click', async () => {
    const result = await api('/api/undo', {});
    if (result.ok) loadGallery();
  });
  $('add-category').addEventListener('submit', async (event) => {
    event.preventDefault();
    const result = await api('/api/category', {name: $('new-category').value.trim()});
    if (result.ok) $('new-category').value = '';
  });
  $('gallery-label').addEventListener('change', loadGallery);
  $('gallery-trash').addEventListener('change', loadGallery);
  pollFrame();
  loadGallery();
  document.body.dataset.ready = '1';
}

start();
