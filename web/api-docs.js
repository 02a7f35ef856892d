// The browsable page of the REST API (`/api/v1/docs`): reads `/api/v1/openapi.json` and lists every
// operation by tag, each with its parameters, request body and answers, schemas expanded from
// `components.schemas` on demand. Built with DOM nodes only (no innerHTML): the document's text is
// shown, never interpreted.

/** @typedef {Record<string, any>} Json */

/**
 * @template {keyof HTMLElementTagNameMap} K
 * @param {K} tag
 * @param {Record<string, string>} [attrs]
 * @param {(Node | string)[]} [children]
 * @returns {HTMLElementTagNameMap[K]}
 */
function el(tag, attrs = {}, children = []) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
  node.append(...children);
  return node;
}

/**
 * @param {string} id
 * @returns {HTMLElement}
 */
function byId(id) {
  const node = document.getElementById(id);
  if (!node) throw new Error(`#${id} is missing from the page`);
  return node;
}

/**
 * A schema as a short type: `Conversation`, `string[]`, `{…}`.
 * @param {Json | boolean | undefined} schema
 * @returns {string}
 */
export function typeName(schema) {
  if (schema === true || schema === undefined) return 'any';
  if (schema === false) return 'nothing';
  if (schema.$ref) return String(schema.$ref).split('/').pop() ?? '?';
  if (schema.type === 'array') return typeName(schema.items) + '[]';
  if (Array.isArray(schema.type)) return schema.type.join(' | ');
  if (schema.oneOf || schema.anyOf) return (schema.oneOf || schema.anyOf).map(typeName).join(' | ');
  if (schema.enum) return schema.enum.map((/** @type {unknown} */ v) => JSON.stringify(v)).join(' | ');
  if (schema.const !== undefined) return JSON.stringify(schema.const);
  return schema.type || '{…}';
}

/**
 * The schema named by a `$ref`, expanded into a list of its fields (one level; nested refs expand
 * when opened).
 * @param {Json} components
 * @param {Json | boolean | undefined} schema
 * @returns {HTMLElement}
 */
function schemaView(components, schema) {
  const name = typeName(schema);
  const target = schema && typeof schema === 'object' && schema.$ref ? components[name] : schema;
  const details = el('details', { class: 'api-schema', 'data-schema': name }, [el('summary', {}, [el('code', {}, [name])])]);
  details.addEventListener(
    'toggle',
    () => {
      if (!details.open || details.dataset.filled) return;
      details.dataset.filled = 'true';
      if (target && typeof target === 'object' && target.description) details.append(el('p', {}, [target.description]));
      const props = target && typeof target === 'object' ? target.properties : undefined;
      if (props) {
        const required = new Set(target.required || []);
        const rows = Object.entries(props).map(([field, s]) =>
          el('li', {}, [el('code', {}, [field + (required.has(field) ? '' : '?')]), ': ', schemaView(components, s), s?.description ? el('span', { class: 'api-note' }, [' ' + s.description]) : '']),
        );
        details.append(el('ul', {}, rows));
      }
      for (const variant of (target && typeof target === 'object' && (target.oneOf || target.anyOf)) || []) {
        details.append(el('div', { class: 'api-variant' }, [schemaView(components, variant)]));
      }
    },
  );
  return details;
}

/**
 * @param {Json} doc
 * @param {string} path
 * @param {string} method
 * @param {Json} op
 */
function operationView(doc, path, method, op) {
  const components = doc.components?.schemas || {};
  const body = el('div', { class: 'api-body' });
  if (op.description) body.append(el('p', {}, [op.description]));
  const security = (op.security || []).map((/** @type {Json} */ s) => Object.keys(s)[0]).filter(Boolean);
  body.append(el('p', { class: 'api-note' }, [security.length ? 'Authorization: ' + security.join(', ') : 'No authorization']));
  const params = op.parameters || [];
  if (params.length) {
    body.append(el('h4', {}, ['Parameters']));
    body.append(
      el('ul', {}, params.map((/** @type {Json} */ p) => el('li', {}, [el('code', {}, [p.name]), ` (${p.in}, ${typeName(p.schema)})`, p.description ? ' ' + p.description : '']))),
    );
  }
  const request = op.requestBody?.content?.['application/json']?.schema;
  if (request) body.append(el('h4', {}, ['Request body']), schemaView(components, request));
  body.append(el('h4', {}, ['Answers']));
  for (const [status, answer] of Object.entries(op.responses || {})) {
    const schema = answer.content?.['application/json']?.schema;
    body.append(el('div', { class: 'api-answer' }, [el('strong', {}, [status]), ' ' + (answer.description || ''), schema ? schemaView(components, schema) : '']));
  }
  return el('details', { class: 'api-op', 'data-testid': 'api-operation', 'data-method': method, 'data-path': path }, [
    el('summary', {}, [el('span', { class: `api-method api-${method}` }, [method.toUpperCase()]), ' ', el('code', {}, [path]), ' ', el('span', { class: 'api-note' }, [op.summary || ''])]),
    body,
  ]);
}

/** @param {Json} doc */
function render(doc) {
  byId('api-title').textContent = `${doc.info?.title ?? 'API'} ${doc.info?.version ?? ''}`;
  byId('api-description').textContent = doc.info?.description ?? '';
  byId('api-version').textContent = doc.openapi;
  const byTag = new Map((doc.tags || []).map((/** @type {Json} */ t) => [t.name, /** @type {HTMLElement[]} */ ([])]));
  for (const [path, item] of Object.entries(doc.paths || {})) {
    for (const [method, op] of Object.entries(item)) {
      const tag = op.tags?.[0] || 'other';
      if (!byTag.has(tag)) byTag.set(tag, []);
      byTag.get(tag)?.push(operationView(doc, path, method, op));
    }
  }
  const root = byId('api-operations');
  for (const [tag, ops] of byTag) {
    if (ops.length) root.append(el('section', { 'data-testid': 'api-tag', 'data-tag': tag }, [el('h2', {}, [tag]), ...ops]));
  }
  const filter = /** @type {HTMLInputElement} */ (byId('api-filter'));
  filter.addEventListener('input', () => {
    const q = filter.value.trim().toLowerCase();
    for (const op of root.querySelectorAll('.api-op')) {
      /** @type {HTMLElement} */ (op).hidden = q !== '' && !(op.textContent || '').toLowerCase().includes(q);
    }
  });
  byId('api-docs').setAttribute('aria-busy', 'false');
}

if (typeof document !== 'undefined') {
  fetch('/api/v1/openapi.json')
    .then((r) => r.json())
    .then(render)
    .catch((e) => {
      byId('api-operations').textContent = 'The API document could not be read: ' + e;
    });
}
