// A local webhook receiver for pgmsg's push tests.
//
// usage: node webhook.js PORT [--tls] [--control-port N]
// environment: WEBHOOK_SECRET (optional): a Standard Webhooks secret,
//              "whsec_" and base64, that every path's requests must be signed with
//
// Records every request (path, headers, body) for GET /_control/received.
// Where a secret applies (WEBHOOK_SECRET, or set per path through
// POST /_control/config), the webhook-id, webhook-timestamp and
// webhook-signature headers are checked with the standardwebhooks package,
// and a request that fails gets 401, as a real receiver would answer.
// Fault modes, set through the control API per path or for all, make it
// answer any status, 429 with Retry-After, redirect, hang, add latency or
// drop connections (see README.md).
'use strict';

const { Webhook } = require('standardwebhooks');
const { Fake, log, sleep } = require('./common');

const USAGE = 'usage: node webhook.js PORT [--tls] [--control-port N]\n' +
    '  with WEBHOOK_SECRET=whsec_... to check Standard Webhooks signatures';

let defaultSecret = process.env.WEBHOOK_SECRET || null;
let secrets = new Map();
let requests = [];

function checkSecret(s) {
    try {
        new Webhook(s);
        return null;
    } catch (e) {
        return `invalid secret: ${e.message}`;
    }
}

function secretFor(path) {
    return secrets.has(path) ? secrets.get(path) : defaultSecret;
}

// The Standard Webhooks verdict on a request: {valid, error}.
function verifySignature(secret, req, body) {
    try {
        new Webhook(secret).verify(body, req.headers, { jsonParse: false });
        return { valid: true, error: null };
    } catch (e) {
        return { valid: false, error: e.message };
    }
}

function reply(res, status, headers, text) {
    const body = text === undefined ? '' : text;
    res.writeHead(status, { 'Content-Length': Buffer.byteLength(body), ...headers });
    res.end(body);
}

async function respond(ctx) {
    const { fake, res, rec } = ctx;
    const m = fake.modes.get(rec.path);
    if (m.mode === 'hang') {
        if (rec.outcome !== 'hang') {
            rec.outcome = 'hang';
            fake.count('hang');
        }
        fake.modes.use(m);
        await fake.hang(ctx.req, res, () => respond(ctx));
        return;
    }
    if (m.mode === 'down' || m.mode === 'refuse') {
        rec.outcome = 'down';
        fake.count('down');
        fake.modes.use(m);
        fake.drop(ctx.req, res);
        return;
    }
    fake.modes.use(m);
    if (m.latency_ms) {
        await sleep(m.latency_ms);
    }
    let status;
    let headers = {};
    let outcome = m.mode;
    if (rec.signature && !rec.signature.valid) {
        status = 401;
        outcome = 'bad_signature';
    } else if (m.mode === 'ok') {
        status = m.status || 200;
    } else if (m.mode === 'status') {
        status = m.status;
    } else if (m.mode === 'throttle') {
        status = m.status || 429;
        headers['Retry-After'] = String(m.retry_after === undefined ? 1 : m.retry_after);
    } else if (m.mode === 'redirect') {
        status = m.status || 302;
        headers.Location = m.location || `${fake.baseUrl()}/redirected${rec.path}`;
    }
    if (m.retry_after !== undefined && status !== 401) {
        headers['Retry-After'] = String(m.retry_after);
    }
    rec.outcome = outcome;
    rec.status = status;
    fake.count(outcome);
    reply(res, status, headers, m.body);
}

const fake = new Fake({
    name: 'webhook',
    usage: USAGE,
    keyName: 'path',
    modes: ['ok', 'status', 'throttle', 'redirect', 'hang', 'down', 'refuse'],

    async handle(req, res, body) {
        const n = fake.nextRequest();
        const url = new URL(req.url, 'http://127.0.0.1');
        const text = body.toString('utf8');
        const rec = {
            request: n,
            received_at: new Date().toISOString(),
            method: req.method,
            path: url.pathname,
            query: url.search,
            headers: { ...req.headers },
            body: text,
            body_base64: body.toString('base64'),
            signature: null,
            outcome: null,
        };
        try {
            rec.json = JSON.parse(text);
        } catch (e) {
            rec.json = null;
        }
        const secret = secretFor(rec.path);
        if (secret) {
            rec.signature = verifySignature(secret, req, body);
        }
        requests.push(rec);
        await respond({ fake, req, res, rec });
    },

    state() {
        return { requests };
    },

    summary() {
        return { requests: requests.length };
    },

    reset() {
        requests = [];
    },

    configure(body) {
        for (const k of Object.keys(body)) {
            if (!['secret', 'path'].includes(k)) {
                return `unknown setting "${k}"; known: secret, path`;
            }
        }
        if (body.path !== undefined && typeof body.path !== 'string') {
            return '"path" must be a string';
        }
        if (!('secret' in body)) {
            return '"secret" is required (a whsec_ secret, or null for none)';
        }
        if (body.secret !== null) {
            const err = typeof body.secret === 'string' ? checkSecret(body.secret) : '"secret" must be a string or null';
            if (err) {
                return err;
            }
        }
        if (body.path === undefined) {
            defaultSecret = body.secret;
        } else {
            secrets.set(body.path, body.secret);
        }
        return null;
    },
});

if (defaultSecret) {
    const err = checkSecret(defaultSecret);
    if (err) {
        process.stderr.write(`WEBHOOK_SECRET: ${err}\n`);
        process.exit(2);
    }
}
fake.start(process.argv.slice(2)).catch((e) => {
    log(`webhook: ${e.message}`);
    process.exit(1);
});
