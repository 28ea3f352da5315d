// A local stand-in for Amazon SNS's Query API, for pgmsg's push tests.
//
// usage: node fake-sns.js PORT [--tls] [--control-port N] [--parent-pid N]
// environment: FAKE_SNS_ACCESS_KEY, FAKE_SNS_SECRET_KEY (required),
//              FAKE_SNS_SESSION_TOKEN (optional), FAKE_SNS_REGION (us-east-1)
//
// Every request's SigV4 signature is checked by re-signing it with AWS's own
// signer (@smithy/signature-v4) and the configured credentials; Publish and
// PublishBatch are validated as SNS validates them and answered with SNS's
// XML.  Fault modes, set through the control API (see common.js and
// README.md), make it throttle, fail, hang, fail some entries, refuse the
// credentials or drop connections, per topic ARN if asked.  Every accepted
// entry is recorded for GET /_control/received.
'use strict';

const crypto = require('crypto');
const { SignatureV4 } = require('@smithy/signature-v4');
const { Sha256 } = require('@aws-crypto/sha256-js');
const { Fake, log, sleep, uuid } = require('./common');

const XMLNS = 'https://sns.amazonaws.com/doc/2010-03-31/';
const API_VERSION = '2010-03-31';
const MAX_BATCH_ENTRIES = 10;
const MAX_PAYLOAD = 262144;
const MAX_ATTRIBUTES = 10;
const MAX_SKEW_MS = 15 * 60 * 1000;
const DEDUP_WINDOW_MS = 5 * 60 * 1000;
const TOPIC_ARN = /^arn:aws[a-z-]*:sns:([a-z0-9-]+):(\d{12}):([A-Za-z0-9_-]{1,256}?)(\.fifo)?$/;
const BATCH_ID = /^[A-Za-z0-9_-]{1,80}$/;
const USAGE = 'usage: node fake-sns.js PORT [--tls] [--control-port N] [--parent-pid N]\n' +
    '  with FAKE_SNS_ACCESS_KEY and FAKE_SNS_SECRET_KEY set (FAKE_SNS_SESSION_TOKEN, FAKE_SNS_REGION optional)';

const config = {
    accessKey: process.env.FAKE_SNS_ACCESS_KEY,
    secretKey: process.env.FAKE_SNS_SECRET_KEY,
    sessionToken: process.env.FAKE_SNS_SESSION_TOKEN || null,
    region: process.env.FAKE_SNS_REGION || 'us-east-1',
    // FIFO topics with content-based deduplication: true for all, or ARNs.
    contentBasedDedup: [],
    // Seconds added to the fake's clock, to test the freshness check.
    clockOffsetS: 0,
    // The answers' layout, which a client's parser must not depend on: no
    // whitespace between elements, Failed before Successful.
    xmlCompact: false,
    xmlFailedFirst: false,
};

let entries = [];
let failed = [];
let requests = [];
// FIFO state per topic ARN: the last sequence number and recent dedup ids.
let fifo = new Map();

function xmlEscape(s) {
    return String(s).replace(/[&<>"']/g, (c) => ({
        '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&apos;',
    }[c]));
}

// An error answer, in SNS's ErrorResponse shape.
class SnsError {
    constructor(status, code, message, outcome, type) {
        this.status = status;
        this.code = code;
        this.message = message;
        this.outcome = outcome;
        this.type = type || (status >= 500 ? 'Receiver' : 'Sender');
    }
}

function invalid(code, message) {
    return new SnsError(400, code, message, 'invalid');
}

function sendXml(res, status, xml, extraHeaders) {
    // Text never holds a raw "<" (xmlEscape), so this only touches layout.
    const body = config.xmlCompact ? '<?xml version="1.0"?>' + xml.replace(/>\s+</g, '><') :
        '<?xml version="1.0"?>\n' + xml + '\n';
    res.writeHead(status, {
        'Content-Type': 'text/xml',
        'Content-Length': Buffer.byteLength(body),
        'x-amzn-RequestId': res.requestId,
        ...(extraHeaders || {}),
    });
    res.end(body);
}

function sendError(res, e, extraHeaders) {
    sendXml(res, e.status,
        `<ErrorResponse xmlns="${XMLNS}">\n` +
        '  <Error>\n' +
        `    <Type>${e.type}</Type>\n` +
        `    <Code>${xmlEscape(e.code)}</Code>\n` +
        `    <Message>${xmlEscape(e.message)}</Message>\n` +
        '  </Error>\n' +
        `  <RequestId>${res.requestId}</RequestId>\n` +
        '</ErrorResponse>', extraHeaders);
}

function amzDate(d) {
    return d.toISOString().replace(/[-:]/g, '').replace(/\.\d{3}/, '');
}

function parseAmzDate(s) {
    const m = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(s || '');
    if (!m) {
        return null;
    }
    return new Date(Date.UTC(+m[1], +m[2] - 1, +m[3], +m[4], +m[5], +m[6]));
}

// The values a header was sent with, joined as SigV4 canonicalises them.
function rawHeader(req, name) {
    const vals = [];
    for (let i = 0; i < req.rawHeaders.length; i += 2) {
        if (req.rawHeaders[i].toLowerCase() === name) {
            vals.push(req.rawHeaders[i + 1]);
        }
    }
    return vals.length ? vals.join(',') : undefined;
}

const AUTH = /^AWS4-HMAC-SHA256 +Credential=([^,\s]+), *SignedHeaders=([^,\s]+), *Signature=([0-9a-f]{64})$/;
const TOKEN_INVALID = 'The security token included in the request is invalid.';

// verify(req, url, body): null when the signature is right, else the SnsError
// SNS would answer.
async function verify(req, url, body) {
    const auth = req.headers.authorization;
    if (auth === undefined) {
        return new SnsError(403, 'MissingAuthenticationToken', 'Request is missing Authentication Token', 'missing_auth');
    }
    const m = AUTH.exec(auth);
    if (!m) {
        return new SnsError(400, 'IncompleteSignature',
            `Authorization header requires 'Credential', 'SignedHeaders' and 'Signature' parameters of algorithm AWS4-HMAC-SHA256. Authorization=${auth.split(' ')[0]}`,
            'bad_signature');
    }
    const [akid, scopeDate, region, service, terminator, ...rest] = m[1].split('/');
    const signedHeaders = m[2].split(';');
    const signature = m[3];
    if (akid !== config.accessKey) {
        return new SnsError(403, 'InvalidClientTokenId', TOKEN_INVALID, 'unknown_key');
    }
    if (rest.length || !scopeDate || !terminator) {
        return new SnsError(403, 'SignatureDoesNotMatch', `Credential should be scoped to a valid region, not '${region}'. `, 'bad_signature');
    }
    const dateHeader = req.headers['x-amz-date'];
    const date = parseAmzDate(dateHeader);
    if (!date) {
        return new SnsError(400, 'IncompleteSignature',
            "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header.", 'bad_signature');
    }
    const now = Date.now() + config.clockOffsetS * 1000;
    if (date.getTime() < now - MAX_SKEW_MS) {
        return new SnsError(403, 'SignatureDoesNotMatch',
            `Signature expired: ${dateHeader} is now earlier than ${amzDate(new Date(now - MAX_SKEW_MS))} (${amzDate(new Date(now))} - 15 min.)`,
            'expired');
    }
    if (date.getTime() > now + MAX_SKEW_MS) {
        return new SnsError(403, 'SignatureDoesNotMatch',
            `Signature not yet current: ${dateHeader} is still later than ${amzDate(new Date(now + MAX_SKEW_MS))} (${amzDate(new Date(now))} + 15 min.)`,
            'expired');
    }
    if (scopeDate !== dateHeader.slice(0, 8)) {
        return new SnsError(403, 'SignatureDoesNotMatch',
            `Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: '${scopeDate}' != '${dateHeader.slice(0, 8)}', from '${dateHeader}'.`,
            'bad_signature');
    }
    if (region !== config.region) {
        return new SnsError(403, 'SignatureDoesNotMatch', `Credential should be scoped to a valid region, not '${region}'. `, 'bad_signature');
    }
    if (service !== 'sns') {
        return new SnsError(403, 'SignatureDoesNotMatch', "Credential should be scoped to correct service: 'sns'. ", 'bad_signature');
    }
    if (terminator !== 'aws4_request') {
        return new SnsError(403, 'SignatureDoesNotMatch',
            `Credential should be scoped with a valid terminator: 'aws4_request', not '${terminator}'. `, 'bad_signature');
    }
    if (!signedHeaders.includes('host') || !signedHeaders.includes('x-amz-date')) {
        return new SnsError(403, 'SignatureDoesNotMatch', "'Host' and 'X-Amz-Date' must be signed headers.", 'bad_signature');
    }
    const token = rawHeader(req, 'x-amz-security-token');
    if ((config.sessionToken || token !== undefined) && token !== config.sessionToken) {
        return new SnsError(403, 'InvalidClientTokenId', TOKEN_INVALID, 'bad_token');
    }
    const sha = rawHeader(req, 'x-amz-content-sha256');
    if (sha !== undefined && sha !== crypto.createHash('sha256').update(body).digest('hex')) {
        return new SnsError(400, 'XAmzContentSHA256Mismatch',
            "The provided 'x-amz-content-sha256' header does not match what was computed.", 'bad_signature');
    }

    // Re-sign what was received, with the headers the client says it signed.
    // A signed header must be there: AWS refuses a SignedHeaders entry the
    // request lacks, as curl 7.88 makes of a header removed with "Name:".
    const headers = {};
    for (const name of signedHeaders) {
        const v = rawHeader(req, name);
        if (v === undefined) {
            return new SnsError(400, 'IncompleteSignature',
                `'${name}' is named as a SignedHeader, but it does not exist in the HTTP request.`, 'bad_signature');
        }
        headers[name] = v;
    }
    const query = {};
    for (const [k, v] of url.searchParams) {
        if (query[k] === undefined) {
            query[k] = v;
        } else {
            query[k] = [].concat(query[k], v);
        }
    }
    const signer = new SignatureV4({
        credentials: { accessKeyId: config.accessKey, secretAccessKey: config.secretKey },
        region: config.region,
        service: 'sns',
        sha256: Sha256,
        applyChecksum: false,
    });
    const signed = await signer.sign({
        method: req.method,
        protocol: 'http:',
        hostname: '127.0.0.1',
        path: url.pathname,
        query,
        headers,
        body,
    }, { signingDate: date, signableHeaders: new Set(signedHeaders) });
    const want = AUTH.exec(signed.headers.authorization);
    const ok = want && want[2] === m[2] &&
        crypto.timingSafeEqual(Buffer.from(want[3]), Buffer.from(signature));
    if (!ok) {
        return new SnsError(403, 'SignatureDoesNotMatch',
            'The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details.',
            'bad_signature');
    }
    return null;
}

// parseAttributes(params, prefix): the MessageAttributes.entry.N.* of one
// message, as {name: {data_type, string_value | binary_value}}, and their size.
function parseAttributes(params, prefix) {
    const byIndex = new Map();
    const re = new RegExp('^' + prefix.replace(/\./g, '\\.') + 'MessageAttributes\\.entry\\.(\\d+)\\.(Name|Value\\.DataType|Value\\.StringValue|Value\\.BinaryValue)$');
    for (const [k, v] of params) {
        const m = re.exec(k);
        if (m) {
            if (!byIndex.has(m[1])) {
                byIndex.set(m[1], {});
            }
            byIndex.get(m[1])[m[2]] = v;
        }
    }
    const attrs = {};
    let size = 0;
    for (const idx of [...byIndex.keys()].sort((a, b) => a - b)) {
        const a = byIndex.get(idx);
        const name = a.Name;
        const type = a['Value.DataType'];
        if (!name) {
            throw invalid('InvalidParameterValue', 'The message attribute name must not be empty.');
        }
        if (name.length > 256 || !/^[A-Za-z0-9_.-]+$/.test(name) || /^\.|\.$|\.\./.test(name) ||
            /^(aws\.|amazon\.)/i.test(name)) {
            throw invalid('InvalidParameterValue', `The message attribute name '${name}' is invalid.`);
        }
        if (attrs[name]) {
            throw invalid('InvalidParameterValue', `Message attribute name '${name}' has already been used.`);
        }
        if (!type) {
            throw invalid('InvalidParameterValue', `The message attribute '${name}' must contain non-empty message attribute type.`);
        }
        const base = type.split('.')[0];
        if (!['String', 'Number', 'Binary'].includes(base) || (type.length > base.length && !/^[A-Za-z]+\.[A-Za-z0-9_.-]+$/.test(type))) {
            throw invalid('InvalidParameterValue', `The message attribute '${name}' has an invalid message attribute type, the set of supported type prefixes is Binary, Number, and String.`);
        }
        const rec = { data_type: type };
        if (base === 'Binary') {
            const bin = a['Value.BinaryValue'];
            if (bin === undefined || bin === '' || a['Value.StringValue'] !== undefined) {
                throw invalid('InvalidParameterValue', `The message attribute '${name}' with type 'Binary' must use field 'Binary'.`);
            }
            if (!/^[A-Za-z0-9+/]*={0,2}$/.test(bin) || bin.length % 4 !== 0) {
                throw invalid('InvalidParameterValue', `The message attribute '${name}' has an invalid binary value.`);
            }
            rec.binary_value = bin;
            size += Buffer.from(bin, 'base64').length;
        } else {
            const str = a['Value.StringValue'];
            if (str === undefined || str === '' || a['Value.BinaryValue'] !== undefined) {
                throw invalid('InvalidParameterValue', `The message attribute '${name}' must contain non-empty message attribute value for message attribute type '${base}'.`);
            }
            if (base === 'Number' && !/^-?\d+(\.\d+)?([eE][-+]?\d+)?$/.test(str)) {
                throw invalid('InvalidParameterValue', `Could not cast message attribute '${name}' value to number.`);
            }
            if (type === 'String.Array') {
                let arr;
                try {
                    arr = JSON.parse(str);
                } catch (e) {
                    arr = null;
                }
                if (!Array.isArray(arr)) {
                    throw invalid('InvalidParameterValue', `The message attribute '${name}' with type 'String.Array' must contain a JSON array.`);
                }
            }
            rec.string_value = str;
            size += Buffer.byteLength(str);
        }
        size += Buffer.byteLength(name) + Buffer.byteLength(type);
        attrs[name] = rec;
    }
    if (Object.keys(attrs).length > MAX_ATTRIBUTES) {
        throw invalid('InvalidParameterValue', `Number of message attributes [${Object.keys(attrs).length}] exceeds the allowed maximum [${MAX_ATTRIBUTES}].`);
    }
    return { attrs, size };
}

// parseMessage(params, prefix): one message's fields; throws SnsError.
function parseMessage(params, prefix, topic) {
    const msg = {
        message: params.get(prefix + 'Message'),
        subject: params.get(prefix + 'Subject'),
        message_structure: params.get(prefix + 'MessageStructure'),
        group_id: params.get(prefix + 'MessageGroupId'),
        dedup_id: params.get(prefix + 'MessageDeduplicationId'),
    };
    if (msg.message === null || msg.message === '') {
        throw invalid('InvalidParameter', 'Invalid parameter: Empty message');
    }
    if (msg.message_structure !== null) {
        if (msg.message_structure !== 'json') {
            throw invalid('InvalidParameter', 'Invalid parameter: MessageStructure');
        }
        let parsed;
        try {
            parsed = JSON.parse(msg.message);
        } catch (e) {
            throw invalid('InvalidParameter', 'Invalid parameter: Message Structure - JSON message body failed to parse');
        }
        if (parsed === null || typeof parsed !== 'object' || typeof parsed.default !== 'string') {
            throw invalid('InvalidParameter', 'Invalid parameter: Message Structure - No default entry in JSON message body');
        }
    }
    if (msg.subject !== null && (msg.subject === '' || msg.subject.length > 100 || /[\u0000-\u001f]/.test(msg.subject))) {
        throw invalid('InvalidParameter', 'Invalid parameter: Subject');
    }
    const { attrs, size } = parseAttributes(params, prefix);
    msg.attributes = attrs;
    msg.size = Buffer.byteLength(msg.message) + size;
    if (topic.fifo) {
        if (!msg.group_id) {
            throw invalid('InvalidParameter', 'Invalid parameter: The MessageGroupId parameter is required for FIFO topics');
        }
        if (!msg.dedup_id && !contentBasedDedup(topic.arn)) {
            throw invalid('InvalidParameter',
                'Invalid parameter: The topic should either have ContentBasedDeduplication enabled or MessageDeduplicationId provided explicitly');
        }
    } else if (msg.dedup_id) {
        throw invalid('InvalidParameter',
            'Invalid parameter: MessageDeduplicationId Reason: The request includes MessageDeduplicationId parameter that is not valid for this topic type');
    }
    for (const [k, re] of [['group_id', /^[\x21-\x7e]{1,128}$/], ['dedup_id', /^[\x21-\x7e]{1,128}$/]]) {
        if (msg[k] && !re.test(msg[k])) {
            const name = k === 'group_id' ? 'MessageGroupId' : 'MessageDeduplicationId';
            throw invalid('InvalidParameter', `Invalid parameter: ${name}`);
        }
    }
    return msg;
}

function contentBasedDedup(arn) {
    return config.contentBasedDedup === true || config.contentBasedDedup.includes(arn);
}

function parseTopic(params) {
    const arn = params.get('TopicArn');
    if (!arn) {
        throw invalid('InvalidParameter', 'Invalid parameter: TopicArn or TargetArn Reason: no value for required parameter');
    }
    const m = TOPIC_ARN.exec(arn);
    if (!m) {
        throw invalid('InvalidParameter', 'Invalid parameter: TopicArn');
    }
    if (m[1] !== config.region) {
        throw invalid('InvalidParameter', 'Invalid parameter: TopicArn');
    }
    return { arn, fifo: m[4] !== undefined };
}

// Give an accepted message its MessageId (and, on a FIFO topic, its sequence
// number, or the first copy's ids when its deduplication id was seen within
// the window), and record it.
function accept(ctx, topic, msg, batchId) {
    const rec = {
        request: ctx.n,
        action: ctx.action,
        topic_arn: topic.arn,
        id: batchId,
        message_id: uuid(),
        message: msg.message,
        subject: msg.subject,
        message_structure: msg.message_structure,
        group_id: msg.group_id,
        dedup_id: msg.dedup_id,
        attributes: msg.attributes,
        received_at: ctx.receivedAt,
        signature_verified: true,
        duplicate: false,
    };
    if (topic.fifo) {
        let t = fifo.get(topic.arn);
        if (!t) {
            t = { seq: 10000000000000000000n, dedup: new Map() };
            fifo.set(topic.arn, t);
        }
        const now = Date.now();
        for (const [k, v] of t.dedup) {
            if (v.at < now - DEDUP_WINDOW_MS) {
                t.dedup.delete(k);
            }
        }
        const dedupId = msg.dedup_id || crypto.createHash('sha256').update(msg.message).digest('hex');
        const seen = t.dedup.get(dedupId);
        if (seen) {
            rec.message_id = seen.message_id;
            rec.sequence_number = seen.sequence_number;
            rec.duplicate = true;
        } else {
            t.seq += 1n;
            rec.sequence_number = t.seq.toString();
            t.dedup.set(dedupId, { message_id: rec.message_id, sequence_number: rec.sequence_number, at: now });
        }
    }
    entries.push(rec);
    return rec;
}

// Whether partial mode m fails this entry; "every" counts the entries the
// mode has seen since it was set.
function partialFails(m, msg) {
    if (m.mode !== 'partial' || (m.times !== undefined && m.times <= 0)) {
        return false;
    }
    if (m.every) {
        m.seen = (m.seen || 0) + 1;
        return m.seen % m.every === 0;
    }
    return msg.message.includes(m.marker || 'FAIL');
}

function entryFailure(m) {
    const senderFault = m.sender_fault === true;
    return {
        code: m.code || (senderFault ? 'InvalidParameter' : 'InternalError'),
        message: m.message || (senderFault ? 'Invalid parameter: Message' : 'Internal Error'),
        sender_fault: senderFault,
    };
}

function recordFailure(ctx, topic, msg, batchId, f) {
    failed.push({
        request: ctx.n,
        action: ctx.action,
        topic_arn: topic.arn,
        id: batchId,
        message: msg.message,
        group_id: msg.group_id,
        dedup_id: msg.dedup_id,
        code: f.code,
        sender_fault: f.sender_fault,
        received_at: ctx.receivedAt,
    });
}

function publishBatch(ctx, m) {
    const { params } = ctx;
    const topic = parseTopic(params);
    const indexes = new Set();
    for (const k of params.keys()) {
        const mm = /^PublishBatchRequestEntries\.member\.(\d+)\./.exec(k);
        if (mm) {
            indexes.add(Number(mm[1]));
        }
    }
    if (indexes.size === 0) {
        throw invalid('EmptyBatchRequest', "The batch request doesn't contain any entries.");
    }
    if (indexes.size > MAX_BATCH_ENTRIES) {
        throw invalid('TooManyEntriesInBatchRequest', 'The batch request contains more entries than permissible.');
    }
    const batch = [];
    const ids = new Set();
    let total = 0;
    for (const i of [...indexes].sort((a, b) => a - b)) {
        const prefix = `PublishBatchRequestEntries.member.${i}.`;
        const id = params.get(prefix + 'Id');
        if (id === null || !BATCH_ID.test(id)) {
            throw invalid('InvalidBatchEntryId', "The Id of a batch entry in a batch request doesn't abide by the specification.");
        }
        if (ids.has(id)) {
            throw invalid('BatchEntryIdsNotDistinct', 'Two or more batch entries in the request have the same Id.');
        }
        ids.add(id);
        const msg = parseMessage(params, prefix, topic);
        total += msg.size;
        batch.push({ id, msg });
    }
    if (total > MAX_PAYLOAD) {
        throw invalid('BatchRequestTooLong', 'The length of all the messages put together is more than the limit.');
    }
    const ok = [];
    const bad = [];
    for (const { id, msg } of batch) {
        if (partialFails(m, msg)) {
            const f = entryFailure(m);
            recordFailure(ctx, topic, msg, id, f);
            bad.push({ id, ...f });
            ctx.fake.modes.use(m);
        } else {
            ok.push(accept(ctx, topic, msg, id));
        }
    }
    ctx.entries = batch.length;
    ctx.accepted = ok.length;
    const members = (list, fmt) => (list.length === 0 ? '' :
        list.map((x) => '      <member>\n' + fmt(x) + '      </member>\n').join(''));
    const succXml = members(ok, (r) =>
        `        <Id>${xmlEscape(r.id)}</Id>\n` +
        `        <MessageId>${r.message_id}</MessageId>\n` +
        (r.sequence_number ? `        <SequenceNumber>${r.sequence_number}</SequenceNumber>\n` : ''));
    const failXml = members(bad, (f) =>
        `        <Id>${xmlEscape(f.id)}</Id>\n` +
        `        <Code>${xmlEscape(f.code)}</Code>\n` +
        `        <Message>${xmlEscape(f.message)}</Message>\n` +
        `        <SenderFault>${f.sender_fault}</SenderFault>\n`);
    const succList = succXml ? `    <Successful>\n${succXml}    </Successful>\n` : '    <Successful/>\n';
    const failList = failXml ? `    <Failed>\n${failXml}    </Failed>\n` : '    <Failed/>\n';
    return {
        outcome: bad.length ? 'partial' : 'ok',
        xml: `<PublishBatchResponse xmlns="${XMLNS}">\n` +
            '  <PublishBatchResult>\n' +
            (config.xmlFailedFirst ? failList + succList : succList + failList) +
            '  </PublishBatchResult>\n' +
            '  <ResponseMetadata>\n' +
            `    <RequestId>${ctx.requestId}</RequestId>\n` +
            '  </ResponseMetadata>\n' +
            '</PublishBatchResponse>',
    };
}

function publish(ctx, m) {
    const { params } = ctx;
    const topic = parseTopic(params);
    const msg = parseMessage(params, '', topic);
    if (msg.size > MAX_PAYLOAD) {
        throw invalid('InvalidParameter', 'Invalid parameter: Message too long');
    }
    ctx.entries = 1;
    if (partialFails(m, msg)) {
        const f = entryFailure(m);
        recordFailure(ctx, topic, msg, null, f);
        ctx.fake.modes.use(m);
        throw new SnsError(f.sender_fault ? 400 : 500, f.code, f.message, 'partial');
    }
    const r = accept(ctx, topic, msg, null);
    ctx.accepted = 1;
    return {
        outcome: 'ok',
        xml: `<PublishResponse xmlns="${XMLNS}">\n` +
            '  <PublishResult>\n' +
            `    <MessageId>${r.message_id}</MessageId>\n` +
            (r.sequence_number ? `    <SequenceNumber>${r.sequence_number}</SequenceNumber>\n` : '') +
            '  </PublishResult>\n' +
            '  <ResponseMetadata>\n' +
            `    <RequestId>${ctx.requestId}</RequestId>\n` +
            '  </ResponseMetadata>\n' +
            '</PublishResponse>',
    };
}

// Answer a request whose signature checked out, as its topic's mode says.
async function respond(ctx) {
    const { fake, res, rec } = ctx;
    const m = fake.modes.get(ctx.topicArn);
    if (m.mode === 'hang') {
        if (rec.outcome !== 'hang') {
            rec.outcome = 'hang';
            fake.count('hang');
            fake.modes.use(m);
        }
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
    if (m.mode !== 'partial') {
        fake.modes.use(m);
    }
    if (m.latency_ms) {
        await sleep(m.latency_ms);
    }
    const faults = {
        throttle: () => new SnsError(m.status || 400, 'Throttling', 'Rate exceeded', 'throttle'),
        error500: () => new SnsError(m.status || 500, 'InternalError', 'Internal Error', 'error500'),
        badcreds: () => new SnsError(403, 'InvalidClientTokenId', TOKEN_INVALID, 'badcreds'),
        forbidden: () => new SnsError(403, 'AuthorizationError',
            `User: arn:aws:iam::123456789012:user/pgmsg is not authorized to perform: SNS:Publish on resource: ${ctx.topicArn} because no identity-based policy allows the SNS:Publish action`,
            'forbidden'),
        notfound: () => new SnsError(404, 'NotFound', 'Topic does not exist', 'notfound'),
    };
    let answer;
    if (faults[m.mode]) {
        answer = faults[m.mode]();
    } else {
        try {
            const version = ctx.params.get('Version');
            if (ctx.action === null) {
                throw invalid('MissingAction', 'Could not find operation');
            }
            if (version === null) {
                throw invalid('MissingParameter', 'The request must contain the parameter Version.');
            }
            if (version !== API_VERSION) {
                throw invalid('InvalidParameterValue', `Invalid API version: ${version}`);
            }
            if (ctx.action === 'PublishBatch') {
                answer = publishBatch(ctx, m);
            } else if (ctx.action === 'Publish') {
                answer = publish(ctx, m);
            } else {
                throw invalid('InvalidAction', `The action ${ctx.action} is not valid for this web service.`);
            }
        } catch (e) {
            if (!(e instanceof SnsError)) {
                throw e;
            }
            answer = e;
        }
    }
    rec.entries = ctx.entries || 0;
    rec.accepted = ctx.accepted || 0;
    if (answer instanceof SnsError) {
        rec.outcome = answer.outcome;
        rec.status = answer.status;
        rec.error_code = answer.code;
        fake.count(answer.outcome);
        const extra = m.retry_after !== undefined && faults[m.mode] ?
            { 'Retry-After': String(m.retry_after) } : undefined;
        sendError(res, answer, extra);
    } else {
        rec.outcome = answer.outcome;
        rec.status = 200;
        fake.count(answer.outcome);
        sendXml(res, 200, answer.xml);
    }
}

function redactedHeaders(req) {
    const h = { ...req.headers };
    if (h['x-amz-security-token'] !== undefined) {
        h['x-amz-security-token'] = '(redacted)';
    }
    return h;
}

const fake = new Fake({
    name: 'fake-sns',
    usage: USAGE,
    keyName: 'topic',
    modeParams: ['marker', 'every', 'sender_fault', 'code', 'message'],
    modes: ['ok', 'throttle', 'error500', 'hang', 'partial', 'badcreds', 'forbidden', 'notfound', 'down', 'refuse'],

    async handle(req, res, body) {
        const n = fake.nextRequest();
        const url = new URL(req.url, 'http://127.0.0.1');
        const params = new URLSearchParams(url.search);
        // As SNS does, read the body as parameters only when it says it is a form.
        const type = (req.headers['content-type'] || '').split(';')[0].trim().toLowerCase();
        if (req.method === 'POST' && type === 'application/x-www-form-urlencoded') {
            for (const [k, v] of new URLSearchParams(body.toString('utf8'))) {
                params.append(k, v);
            }
        }
        res.requestId = uuid();
        const ctx = {
            fake, req, res, n, params,
            requestId: res.requestId,
            receivedAt: new Date().toISOString(),
            action: params.get('Action'),
            topicArn: params.get('TopicArn') || undefined,
        };
        ctx.rec = {
            request: n,
            received_at: ctx.receivedAt,
            method: req.method,
            path: url.pathname,
            action: ctx.action,
            topic_arn: ctx.topicArn || null,
            headers: redactedHeaders(req),
            signature_verified: false,
            outcome: null,
        };
        requests.push(ctx.rec);
        const err = await verify(req, url, body);
        if (err) {
            ctx.rec.outcome = err.outcome;
            ctx.rec.status = err.status;
            ctx.rec.error_code = err.code;
            fake.count(err.outcome);
            sendError(res, err);
            return;
        }
        ctx.rec.signature_verified = true;
        await respond(ctx);
    },

    state() {
        return { entries, failed, requests };
    },

    summary() {
        return { entries: entries.length, failed: failed.length, requests: requests.length };
    },

    reset() {
        entries = [];
        failed = [];
        requests = [];
        fifo = new Map();
    },

    configure(body) {
        const known = ['access_key', 'secret_key', 'session_token', 'region', 'content_based_deduplication',
            'clock_offset_s', 'xml_compact', 'xml_failed_first'];
        for (const k of Object.keys(body)) {
            if (!known.includes(k)) {
                return `unknown setting "${k}"; known: ${known.join(', ')}`;
            }
        }
        for (const k of ['access_key', 'secret_key', 'region']) {
            if (body[k] !== undefined && (typeof body[k] !== 'string' || body[k] === '')) {
                return `"${k}" must be a non-empty string`;
            }
        }
        if (body.session_token !== undefined && body.session_token !== null && typeof body.session_token !== 'string') {
            return '"session_token" must be a string or null';
        }
        const cbd = body.content_based_deduplication;
        if (cbd !== undefined && cbd !== true && cbd !== false &&
            !(Array.isArray(cbd) && cbd.every((a) => typeof a === 'string'))) {
            return '"content_based_deduplication" must be true, false or an array of topic ARNs';
        }
        if (body.clock_offset_s !== undefined && !Number.isInteger(body.clock_offset_s)) {
            return '"clock_offset_s" must be an integer';
        }
        for (const k of ['xml_compact', 'xml_failed_first']) {
            if (body[k] !== undefined && typeof body[k] !== 'boolean') {
                return `"${k}" must be true or false`;
            }
        }
        if (body.clock_offset_s !== undefined) config.clockOffsetS = body.clock_offset_s;
        if (body.xml_compact !== undefined) config.xmlCompact = body.xml_compact;
        if (body.xml_failed_first !== undefined) config.xmlFailedFirst = body.xml_failed_first;
        if (body.access_key !== undefined) config.accessKey = body.access_key;
        if (body.secret_key !== undefined) config.secretKey = body.secret_key;
        if (body.session_token !== undefined) config.sessionToken = body.session_token || null;
        if (body.region !== undefined) config.region = body.region;
        if (cbd !== undefined) config.contentBasedDedup = cbd === false ? [] : cbd;
        return null;
    },
});

if (!config.accessKey || !config.secretKey) {
    process.stderr.write(USAGE + '\n');
    process.exit(2);
}
fake.start(process.argv.slice(2)).catch((e) => {
    log(`fake-sns: ${e.message}`);
    process.exit(1);
});
