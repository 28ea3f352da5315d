-- SNS subscription filter policies: pgmsg.filter_matches matches a message
-- against a policy and refuses invalid policies as a subscription would.

CREATE TEMP TABLE filter_cases (
    id       serial PRIMARY KEY,
    note     text NOT NULL,
    scope    text NOT NULL DEFAULT 'MessageAttributes',
    policy   jsonb NOT NULL,
    attributes jsonb,
    body     jsonb,
    expected boolean NOT NULL
);

-- MessageAttributes scope: attributes are {"name": "string" | number | ["str", ...]}
INSERT INTO filter_cases (note, policy, attributes, expected) VALUES
-- exact strings
('string equal',                 '{"kind": ["order"]}', '{"kind": "order"}', true),
('string is case-sensitive',     '{"kind": ["order"]}', '{"kind": "Order"}', false),
('string in list (OR)',          '{"kind": ["order", "refund"]}', '{"kind": "refund"}', true),
('string not in list',           '{"kind": ["order", "refund"]}', '{"kind": "return"}', false),
('attribute missing',            '{"kind": ["order"]}', '{"other": "order"}', false),
('no attributes (NULL)',         '{"kind": ["order"]}', NULL, false),
('no attributes ({})',           '{"kind": ["order"]}', '{}', false),
('String.Array: one element',    '{"interests": ["rugby", "tennis"]}', '{"interests": ["baseball", "rugby"]}', true),
('String.Array: no element',     '{"interests": ["rugby", "tennis"]}', '{"interests": ["baseball"]}', false),
('String.Array: empty',          '{"interests": ["rugby"]}', '{"interests": []}', false),
('empty string',                 '{"kind": [""]}', '{"kind": ""}', true),
-- exact numbers
('number equal, other notation', '{"price": [301.5]}', '{"price": 3.015e2}', true),
('number 5 equals 5.0',          '{"price": [5]}', '{"price": 5.0}', true),
('number vs string "5"',         '{"price": [5]}', '{"price": "5"}', false),
('string "5" vs number',         '{"price": ["5"]}', '{"price": 5}', false),
('number not equal',             '{"price": [5]}', '{"price": 5.000001}', false),
('negative number',              '{"price": [-2.5]}', '{"price": -2.50}', true),
('zero equals -0.0',             '{"price": [0]}', '{"price": -0.0}', true),
('14 digits, equal',             '{"id": [-999999999.99999]}', '{"id": -999999999.999990}', true),
('14 digits, beyond a double',   '{"id": [-999999999.99999]}', '{"id": -999999999.9999900000000001}', false),
-- prefix, suffix, equals-ignore-case
('prefix',                       '{"ci": [{"prefix": "bas"}]}', '{"ci": "baseball"}', true),
('prefix no match',              '{"ci": [{"prefix": "bas"}]}', '{"ci": "rugby"}', false),
('prefix longer than value',     '{"ci": [{"prefix": "baseballs"}]}', '{"ci": "baseball"}', false),
('prefix vs number',             '{"n": [{"prefix": "1"}]}', '{"n": 123}', false),
('prefix on String.Array',       '{"ci": [{"prefix": "bas"}]}', '{"ci": ["rugby", "basketball"]}', true),
('suffix',                       '{"file": [{"suffix": ".png"}]}', '{"file": "image.png"}', true),
('suffix no match',              '{"file": [{"suffix": ".png"}]}', '{"file": "image.jpg"}', false),
('suffix is whole value',        '{"file": [{"suffix": ".png"}]}', '{"file": ".png"}', true),
('equals-ignore-case',           '{"color": [{"equals-ignore-case": "ReD"}]}', '{"color": "rEd"}', true),
('equals-ignore-case, longer',   '{"color": [{"equals-ignore-case": "ReD"}]}', '{"color": "reds"}', false),
('equals-ignore-case, non-ASCII','{"name": [{"equals-ignore-case": "Café"}]}', '{"name": "CAFé"}', true),
('equals-ignore-case vs number', '{"n": [{"equals-ignore-case": "5"}]}', '{"n": 5}', false),
-- anything-but
('anything-but list, other',     '{"ci": [{"anything-but": ["rugby", "tennis"]}]}', '{"ci": "baseball"}', true),
('anything-but list, listed',    '{"ci": [{"anything-but": ["rugby", "tennis"]}]}', '{"ci": "rugby"}', false),
('anything-but, array with other element', '{"ci": [{"anything-but": ["rugby", "tennis"]}]}', '{"ci": ["rugby", "baseball"]}', true),
('anything-but, array all listed', '{"ci": [{"anything-but": ["rugby", "tennis"]}]}', '{"ci": ["rugby", "tennis"]}', false),
('anything-but, attribute missing', '{"ci": [{"anything-but": ["rugby"]}]}', '{"other": "x"}', false),
('anything-but one string',      '{"ci": [{"anything-but": "rugby"}]}', '{"ci": "tennis"}', true),
('anything-but one string, equal', '{"ci": [{"anything-but": "rugby"}]}', '{"ci": "rugby"}', false),
('anything-but strings vs number', '{"ci": [{"anything-but": ["rugby"]}]}', '{"ci": 5}', false),
('anything-but numbers, other',  '{"price": [{"anything-but": [100, 500]}]}', '{"price": 101}', true),
('anything-but numbers, listed', '{"price": [{"anything-but": [100, 500]}]}', '{"price": 100}', false),
('anything-but numbers, 100.0',  '{"price": [{"anything-but": [100, 500]}]}', '{"price": 100.0}', false),
('anything-but numbers vs string', '{"price": [{"anything-but": [100, 500]}]}', '{"price": "abc"}', false),
('anything-but one number',      '{"price": [{"anything-but": 100}]}', '{"price": 100.1}', true),
('anything-but prefix, other',   '{"event": [{"anything-but": {"prefix": "order-"}}]}', '{"event": "data-entry"}', true),
('anything-but prefix, near',    '{"event": [{"anything-but": {"prefix": "order-"}}]}', '{"event": "order_number"}', true),
('anything-but prefix, prefixed', '{"event": [{"anything-but": {"prefix": "order-"}}]}', '{"event": "order-cancelled"}', false),
('anything-but or absent, absent', '{"ci": [{"anything-but": "rugby"}, {"exists": false}]}', '{"other": 1}', true),
('anything-but or absent, listed', '{"ci": [{"anything-but": "rugby"}, {"exists": false}]}', '{"ci": "rugby"}', false),
-- numeric
('numeric =',                    '{"price": [{"numeric": ["=", 301.5]}]}', '{"price": 301.5}', true),
('numeric =, other notation',    '{"price": [{"numeric": ["=", 301.5]}]}', '{"price": 3.015e2}', true),
('numeric < 0, -1',              '{"p": [{"numeric": ["<", 0]}]}', '{"p": -1}', true),
('numeric < 0, 0',               '{"p": [{"numeric": ["<", 0]}]}', '{"p": 0}', false),
('numeric <= 0, 0',              '{"p": [{"numeric": ["<=", 0]}]}', '{"p": 0}', true),
('numeric > 0, 0',               '{"p": [{"numeric": [">", 0]}]}', '{"p": 0}', false),
('numeric >= 0, 0',              '{"p": [{"numeric": [">=", 0]}]}', '{"p": 0}', true),
('range (0, 150], 150',          '{"p": [{"numeric": [">", 0, "<=", 150]}]}', '{"p": 150}', true),
('range (0, 150], 0',            '{"p": [{"numeric": [">", 0, "<=", 150]}]}', '{"p": 0}', false),
('range (0, 150], 0.00001',      '{"p": [{"numeric": [">", 0, "<=", 150]}]}', '{"p": 0.00001}', true),
('range (0, 150], 150.00001',    '{"p": [{"numeric": [">", 0, "<=", 150]}]}', '{"p": 150.00001}', false),
('range [10, 20), 10',           '{"p": [{"numeric": [">=", 10, "<", 20]}]}', '{"p": 10}', true),
('range [10, 20), 20',           '{"p": [{"numeric": [">=", 10, "<", 20]}]}', '{"p": 20}', false),
('numeric vs string "5"',        '{"p": [{"numeric": [">", 0]}]}', '{"p": "5"}', false),
('numeric, big bounds',          '{"p": [{"numeric": [">", -1e9, "<", 1e9]}]}', '{"p": 123456789.12345}', true),
('numeric > 1e9',                '{"p": [{"numeric": [">", 1e9]}]}', '{"p": 1e10}', true),
('numeric, tiny values',         '{"p": [{"numeric": [">", 0.00001]}]}', '{"p": 0.0000101}', true),
-- exists
('exists true, present',         '{"store": [{"exists": true}]}', '{"store": "fans", "ci": ["baseball"]}', true),
('exists true, absent',          '{"store": [{"exists": true}]}', '{"ci": ["baseball"]}', false),
('exists true, empty array',     '{"store": [{"exists": true}]}', '{"store": []}', false),
('exists false, absent',         '{"store": [{"exists": false}]}', '{"ci": ["baseball"]}', true),
('exists false, present',        '{"store": [{"exists": false}]}', '{"store": "fans"}', false),
('exists false, no attributes',  '{"store": [{"exists": false}]}', '{}', false),
('exists false, NULL attributes', '{"store": [{"exists": false}]}', NULL, false),
-- cidr
('cidr IPv4, network address',   '{"ip": [{"cidr": "10.0.0.0/24"}]}', '{"ip": "10.0.0.0"}', true),
('cidr IPv4, last address',      '{"ip": [{"cidr": "10.0.0.0/24"}]}', '{"ip": "10.0.0.255"}', true),
('cidr IPv4, outside',           '{"ip": [{"cidr": "10.0.0.0/24"}]}', '{"ip": "10.1.1.0"}', false),
('cidr IPv4, host bits ignored', '{"ip": [{"cidr": "10.0.0.77/24"}]}', '{"ip": "10.0.0.1"}', true),
('cidr /23, inside',             '{"ip": [{"cidr": "192.168.0.0/23"}]}', '{"ip": "192.168.1.200"}', true),
('cidr /23, outside',            '{"ip": [{"cidr": "192.168.0.0/23"}]}', '{"ip": "192.168.2.1"}', false),
('cidr /0',                      '{"ip": [{"cidr": "0.0.0.0/0"}]}', '{"ip": "203.0.113.9"}', true),
('cidr /32',                     '{"ip": [{"cidr": "203.0.113.9/32"}]}', '{"ip": "203.0.113.9"}', true),
('cidr IPv6, inside',            '{"ip": [{"cidr": "2001:db8::/32"}]}', '{"ip": "2001:db8:1::5"}', true),
('cidr IPv6, outside',           '{"ip": [{"cidr": "2001:db8::/32"}]}', '{"ip": "2001:db9::1"}', false),
('cidr IPv6, uncompressed',      '{"ip": [{"cidr": "2001:db8::/32"}]}', '{"ip": "2001:0db8:0000:0000:0000:0000:0000:0001"}', true),
('cidr IPv6 vs IPv4 address',    '{"ip": [{"cidr": "::/0"}]}', '{"ip": "10.0.0.1"}', false),
('cidr, not an address',         '{"ip": [{"cidr": "10.0.0.0/8"}]}', '{"ip": "10.0.0.1.5"}', false),
('cidr vs number',               '{"ip": [{"cidr": "10.0.0.0/8"}]}', '{"ip": 10}', false),
('cidr on String.Array',         '{"ip": [{"cidr": "10.0.0.0/8"}]}', '{"ip": ["192.168.0.1", "10.2.3.4"]}', true),
-- AND across keys, OR within a key
('AND: both match',              '{"ci": ["rugby"], "price": [{"numeric": [">", 100]}]}', '{"ci": "rugby", "price": 150}', true),
('AND: one fails',               '{"ci": ["rugby"], "price": [{"numeric": [">", 100]}]}', '{"ci": "rugby", "price": 50}', false),
('AND: one missing',             '{"ci": ["rugby"], "price": [{"numeric": [">", 100]}]}', '{"ci": "rugby"}', false),
('OR of operators in a key',     '{"ci": [{"prefix": "foot"}, "rugby", {"suffix": "ball"}]}', '{"ci": "baseball"}', true),
('five keys, extra attributes',  '{"a": ["1"], "b": [{"prefix": "x"}], "c": [{"numeric": [">", 1]}], "d": [{"exists": true}], "e": [{"exists": false}]}', '{"a": "1", "b": "xy", "c": 2, "d": "z", "f": "other"}', true),
-- $or
('$or: first branch',            '{"source": ["aws.cloudwatch"], "$or": [{"metricName": ["CPUUtilization"]}, {"namespace": ["AWS/EC2"]}]}', '{"source": "aws.cloudwatch", "metricName": "CPUUtilization"}', true),
('$or: second branch',           '{"source": ["aws.cloudwatch"], "$or": [{"metricName": ["CPUUtilization"]}, {"namespace": ["AWS/EC2"]}]}', '{"source": "aws.cloudwatch", "namespace": "AWS/EC2"}', true),
('$or: no branch',               '{"source": ["aws.cloudwatch"], "$or": [{"metricName": ["CPUUtilization"]}, {"namespace": ["AWS/EC2"]}]}', '{"source": "aws.cloudwatch", "namespace": "AWS/ES"}', false),
('$or: branch but not the AND',  '{"source": ["aws.cloudwatch"], "$or": [{"metricName": ["CPUUtilization"]}, {"namespace": ["AWS/EC2"]}]}', '{"metricName": "CPUUtilization"}', false),
('$or nested in $or: inner',     '{"source": ["aws.cloudwatch"], "$or": [{"metricName": ["CPUUtilization", "ReadLatency"]}, {"metricType": ["MetricType"], "$or": [{"metricId": [1234, 4321]}, {"spaceId": [1000, 2000]}]}]}', '{"source": "aws.cloudwatch", "metricType": "MetricType", "spaceId": 1000}', true),
('$or nested in $or: inner fails', '{"source": ["aws.cloudwatch"], "$or": [{"metricName": ["CPUUtilization", "ReadLatency"]}, {"metricType": ["MetricType"], "$or": [{"metricId": [1234, 4321]}, {"spaceId": [1000, 2000]}]}]}', '{"source": "aws.cloudwatch", "metricType": "MetricType"}', false),
('$or: same key in two branches counts once', '{"a": ["1"], "b": ["1"], "c": ["1"], "$or": [{"d": ["1"]}, {"d": ["2"], "e": ["1"]}]}', '{"a": "1", "b": "1", "c": "1", "d": "2", "e": "1"}', true),
('"$or" of strings is a key',    '{"$or": ["x"]}', '{"$or": "x"}', true),
('"$or" of operators is a key',  '{"$or": [{"prefix": "a"}, {"suffix": "z"}]}', '{"$or": "abz"}', true),
('150 combinations is allowed',  '{"source": ["aws.cloudwatch", "aws.events", "aws.test"], "$or": [{"metricName": ["CPUUtilization", "ReadLatency", "TestVal", "TestVal2", "TestVal3", "TestVal4"]}, {"metricType": ["MetricType", "TestType", "TestType2", "TestType3"], "$or": [{"metricId": [1234, 4321, 5678, 9012]}, {"spaceId": [1, 2, 3, 4, 5, 6, 7]}]}]}', '{"source": "aws.test", "metricType": "TestType3", "spaceId": 7}', true);

-- MessageBody scope: nested keys mirror the body's nested objects
INSERT INTO filter_cases (note, scope, policy, body, expected) VALUES
('body: boolean true',           'MessageBody', '{"flag": [true]}', '{"flag": true}', true),
('body: true vs "true"',         'MessageBody', '{"flag": [true]}', '{"flag": "true"}', false),
('body: boolean false',          'MessageBody', '{"flag": [false]}', '{"flag": false}', true),
('body: false vs true',          'MessageBody', '{"flag": [false]}', '{"flag": true}', false),
('body: null',                   'MessageBody', '{"v": [null]}', '{"v": null}', true),
('body: null vs missing',        'MessageBody', '{"v": [null]}', '{"w": 1}', false),
('body: null vs "null"',         'MessageBody', '{"v": [null]}', '{"v": "null"}', false),
('body: numeric on an array',    'MessageBody', '{"p": [{"numeric": [">", 100]}]}', '{"p": [1, 200]}', true),
('body: nested arrays flattened','MessageBody', '{"a": ["x"]}', '{"a": [["y"], ["x"]]}', true),
('body: leaf vs object value',   'MessageBody', '{"a": ["x"]}', '{"a": {"b": "x"}}', false),
('body: exists true, null',      'MessageBody', '{"store": [{"exists": true}]}', '{"store": null}', false),
('body: exists false, null',     'MessageBody', '{"store": [{"exists": false}]}', '{"store": null}', false),
('body: exists true, object',    'MessageBody', '{"store": [{"exists": true}]}', '{"store": {"a": 1}}', false),
('body: exists true, [null, 1]', 'MessageBody', '{"store": [{"exists": true}]}', '{"store": [null, 1]}', true),
('body: exists false, empty body', 'MessageBody', '{"store": [{"exists": false}]}', '{}', true),
('body: nested prefix',          'MessageBody', '{"object": {"key": [{"prefix": "auto-"}, "hardcodedvalue"], "nested_key": [{"exists": false}]}, "test": [{"exists": false}]}', '{"object": {"key": "auto-test"}}', true),
('body: nested exact',           'MessageBody', '{"object": {"key": [{"prefix": "auto-"}, "hardcodedvalue"], "nested_key": [{"exists": false}]}, "test": [{"exists": false}]}', '{"object": {"key": "hardcodedvalue"}}', true),
('body: nested no match',        'MessageBody', '{"object": {"key": [{"prefix": "auto-"}, "hardcodedvalue"], "nested_key": [{"exists": false}]}, "test": [{"exists": false}]}', '{"object": {"key": "test-auto"}}', false),
('body: top-level exists false fails', 'MessageBody', '{"object": {"key": [{"prefix": "auto-"}, "hardcodedvalue"], "nested_key": [{"exists": false}]}, "test": [{"exists": false}]}', '{"object": {"key": "auto-test"}, "test": "x"}', false),
('body: nested exists false fails', 'MessageBody', '{"object": {"key": [{"prefix": "auto-"}, "hardcodedvalue"], "nested_key": [{"exists": false}]}, "test": [{"exists": false}]}', '{"object": {"key": "auto-test", "nested_key": "x"}}', false),
('body: nested key at top level', 'MessageBody', '{"object": {"key": [{"prefix": "auto-"}, "hardcodedvalue"], "nested_key": [{"exists": false}]}, "test": [{"exists": false}]}', '{"key": "auto-test"}', false),
('body: nested absent parent, exists false', 'MessageBody', '{"a": {"b": [{"exists": false}]}}', '{"c": 1}', true),
('body: nested scalar parent, exists false', 'MessageBody', '{"a": {"b": [{"exists": false}]}}', '{"a": 5}', true),
('body: nested present, exists false', 'MessageBody', '{"a": {"b": [{"exists": false}]}}', '{"a": {"b": 1}}', false),
('body: deeper nesting',         'MessageBody', '{"a": {"b": {"c": {"d": [{"numeric": [">=", 3]}]}}}}', '{"a": {"b": {"c": {"d": 3}}}}', true),
('body: S3, records created auto', 'MessageBody', '{"Records": {"s3": {"object": {"key": [{"prefix": "auto-"}]}}, "eventName": [{"prefix": "ObjectCreated:"}]}}', '{"Records": [{"eventName": "ObjectCreated:Put", "s3": {"object": [[{"key": "auto-insurance-2314.xml", "size": 17}]]}}, {"eventName": "ObjectRemoved:Delete", "s3": {"object": {"key": "home-insurance-2314.xml"}}}]}', true),
('body: S3, removed',            'MessageBody', '{"Records": {"s3": {"object": {"key": [{"prefix": "auto-"}]}}, "eventName": [{"prefix": "ObjectCreated:"}]}}', '{"Records": [{"eventName": "ObjectRemoved:Delete", "s3": {"object": {"key": "auto-insurance-2314.xml"}}}]}', false),
('body: S3, other key',          'MessageBody', '{"Records": {"s3": {"object": {"key": [{"prefix": "auto-"}]}}, "eventName": [{"prefix": "ObjectCreated:"}]}}', '{"Records": [{"eventName": "ObjectCreated:Put", "s3": {"object": {"key": "home-insurance-2314.xml"}}}]}', false),
('body: array of objects, one element must match all', 'MessageBody', '{"a": {"b": ["x"], "c": ["y"]}}', '{"a": [{"b": "x", "c": "z"}, {"b": "w", "c": "y"}]}', false),
('body: array of objects, one element matches', 'MessageBody', '{"a": {"b": ["x"], "c": ["y"]}}', '{"a": [{"b": "w"}, {"b": "x", "c": "y"}]}', true),
('body: String array leaf',      'MessageBody', '{"headers": {"route-to": ["queue1"]}}', '{"headers": {"route-to": ["queue1", "queue2"]}}', true),
('body: String array leaf, other', 'MessageBody', '{"headers": {"route-to": ["queue1"]}}', '{"headers": {"route-to": ["queue3"]}}', false),
('body: $or in a nested object', 'MessageBody', '{"detail": {"scope": ["Service"], "$or": [{"source": ["aws.cloudwatch"]}, {"type": ["CloudWatch Alarm State Change"]}]}}', '{"detail": {"scope": "Service", "type": "CloudWatch Alarm State Change"}}', true),
('body: $or in a nested object, no branch', 'MessageBody', '{"detail": {"scope": ["Service"], "$or": [{"source": ["aws.cloudwatch"]}, {"type": ["CloudWatch Alarm State Change"]}]}}', '{"detail": {"scope": "Service"}}', false),
('body: $or at top and nested',  'MessageBody', '{"$or": [{"metricName": ["CPUUtilization", "ReadLatency"]}, {"namespace": ["AWS/EC2", "AWS/ES"]}], "detail": {"scope": ["Service"], "$or": [{"source": ["aws.cloudwatch"]}, {"type": ["CloudWatch Alarm State Change"]}]}}', '{"namespace": "AWS/ES", "detail": {"scope": "Service", "source": "aws.cloudwatch"}}', true),
('body: $or at top and nested, top fails', 'MessageBody', '{"$or": [{"metricName": ["CPUUtilization", "ReadLatency"]}, {"namespace": ["AWS/EC2", "AWS/ES"]}], "detail": {"scope": ["Service"], "$or": [{"source": ["aws.cloudwatch"]}, {"type": ["CloudWatch Alarm State Change"]}]}}', '{"metricName": "AWS/EC2", "detail": {"scope": "Service", "source": "aws.cloudwatch"}}', false),
('body: a dotted key is literal', 'MessageBody', '{"a.b": ["x"]}', '{"a": {"b": "x"}}', false),
('body: a dotted key, literal match', 'MessageBody', '{"a.b": ["x"]}', '{"a.b": "x"}', true),
('body: not an object (string)', 'MessageBody', '{"a": [{"exists": false}]}', '"text"', false),
('body: not an object (array)',  'MessageBody', '{"a": [{"exists": false}]}', '[{"b": 1}]', false),
('body: NULL',                   'MessageBody', '{"a": [{"exists": false}]}', NULL, false),
('body: 3x4 x 2x3 = 72 combinations is fine', 'MessageBody', '{"key_a": {"key_b": {"key_c": ["value_one", "value_two", "value_three", "value_four"]}}, "key_d": {"key_e": ["value_one", "value_two", "value_three"]}}', '{"key_a": {"key_b": {"key_c": "value_four"}}, "key_d": {"key_e": "value_one"}}', true);

-- Each scope looks only at its own part of the message
INSERT INTO filter_cases (note, scope, policy, attributes, body, expected) VALUES
('MessageAttributes ignores the body', 'MessageAttributes', '{"a": ["x"]}', '{"b": "y"}', '{"a": "x"}', false),
('MessageBody ignores the attributes', 'MessageBody', '{"a": ["x"]}', '{"a": "x"}', '{"b": "y"}', false),
('both given, attributes scope',       'MessageAttributes', '{"a": ["x"]}', '{"a": "x"}', '{"b": "y"}', true),
('both given, body scope',             'MessageBody', '{"a": ["x"]}', '{"b": "y"}', '{"a": "x"}', true);

-- any case where filter_matches disagrees (must be none)
SELECT id, note, expected
  FROM filter_cases
 WHERE pgmsg.filter_matches(policy, attributes, body, scope) IS DISTINCT FROM expected
 ORDER BY id;

SELECT id, note, pgmsg.filter_matches(policy, attributes, body, scope) AS matched
  FROM filter_cases
 ORDER BY id;

-- default arguments: attributes scope, no body
SELECT pgmsg.filter_matches('{"kind": ["order"]}', '{"kind": "order"}');
SELECT pgmsg.filter_matches('{"kind": ["order"]}', NULL);
SELECT pgmsg.filter_matches('{"kind": ["order"]}', NULL, '{"kind": "order"}', filter_policy_scope => 'MessageBody');

-- a cached policy is compiled again when the policy or the scope changes
SELECT p, s, pgmsg.filter_matches(p::jsonb, '{"a": "x"}', '{"a": "y"}', s)
  FROM (VALUES ('{"a": ["x"]}', 'MessageAttributes'), ('{"a": ["x"]}', 'MessageAttributes'),
               ('{"a": ["y"]}', 'MessageAttributes'), ('{"a": ["y"]}', 'MessageBody'),
               ('{"a": ["x"]}', 'MessageBody'), ('{"a": ["x"]}', 'MessageAttributes')) AS v(p, s);

-- arguments
SELECT pgmsg.filter_matches(NULL, '{"kind": "order"}');
SELECT pgmsg.filter_matches('{"kind": ["order"]}', '{}', NULL, NULL);
SELECT pgmsg.filter_matches('{"kind": ["order"]}', '{}', NULL, 'messagebody');
SELECT pgmsg.filter_matches('{"kind": ["order"]}', '{}', NULL, 'Body');

-- malformed structure
SELECT pgmsg.filter_matches('["kind", "order"]', '{}');
SELECT pgmsg.filter_matches('"kind"', '{}');
SELECT pgmsg.filter_matches('5', '{}');
SELECT pgmsg.filter_matches('null', '{}');
SELECT pgmsg.filter_matches('{}', '{}');
SELECT pgmsg.filter_matches('{"kind": "order"}', '{}');
SELECT pgmsg.filter_matches('{"kind": 5}', '{}');
SELECT pgmsg.filter_matches('{"kind": "order"}', NULL, '{}', 'MessageBody');
SELECT pgmsg.filter_matches('{"kind": {"prefix": "ord"}}', '{}');
SELECT pgmsg.filter_matches('{"key": {"suffix": "value"}}', NULL, '{}', 'MessageBody');
SELECT pgmsg.filter_matches('{"kind": []}', '{}');
SELECT pgmsg.filter_matches('{"a": {"b": []}}', NULL, '{}', 'MessageBody');
SELECT pgmsg.filter_matches('{"a": {}}', NULL, '{}', 'MessageBody');
SELECT pgmsg.filter_matches('{"kind": [["order"]]}', '{}');
SELECT pgmsg.filter_matches('{"kind": [{}]}', '{}');
SELECT pgmsg.filter_matches('{"kind": [{"prefix": "a", "suffix": "z"}]}', '{}');

-- unknown operators
SELECT pgmsg.filter_matches('{"foo": [{"bogus": 1}]}', '{}');
SELECT pgmsg.filter_matches('{"foo": [{"wildcard": "a*"}]}', '{}');
SELECT pgmsg.filter_matches('{"foo": [{"Prefix": "a"}]}', '{}');

-- wrong value types
SELECT pgmsg.filter_matches('{"a": [{"prefix": 1}]}', '{}');
SELECT pgmsg.filter_matches('{"a": [{"suffix": null}]}', '{}');
SELECT pgmsg.filter_matches('{"a": [{"suffix": ["x", "y"]}]}', '{}');
SELECT pgmsg.filter_matches('{"a": [{"equals-ignore-case": {}}]}', '{}');
SELECT pgmsg.filter_matches('{"a": [{"exists": "no"}]}', '{}');
SELECT pgmsg.filter_matches('{"a": [{"exists": null}]}', '{}');
SELECT pgmsg.filter_matches('{"a": [{"exists": 1}]}', '{}');

-- numeric
SELECT pgmsg.filter_matches('{"price": [{"numeric": 5}]}', '{}');
SELECT pgmsg.filter_matches('{"price": [{"numeric": "<5"}]}', '{}');
SELECT pgmsg.filter_matches('{"price": [{"numeric": []}]}', '{}');
SELECT pgmsg.filter_matches('{"price": [{"numeric": ["operator"]}]}', '{}');
SELECT pgmsg.filter_matches('{"price": [{"numeric": [1, "<="]}]}', '{}');
SELECT pgmsg.filter_matches('{"price": [{"numeric": ["=", "000"]}]}', '{}');
SELECT pgmsg.filter_matches('{"price": [{"numeric": ["<", "x"]}]}', '{}');
SELECT pgmsg.filter_matches('{"price": [{"numeric": [">="]}]}', '{}');
SELECT pgmsg.filter_matches('{"price": [{"numeric": ["=", 5, "<", 10]}]}', '{}');
SELECT pgmsg.filter_matches('{"price": [{"numeric": ["<", 100, ">", 10]}]}', '{}');
SELECT pgmsg.filter_matches('{"price": [{"numeric": [">=", 1, ">", 2]}]}', '{}');
SELECT pgmsg.filter_matches('{"price": [{"numeric": [">", 0, "=", 2]}]}', '{}');
SELECT pgmsg.filter_matches('{"price": [{"numeric": [">", 20, 30]}]}', '{}');
SELECT pgmsg.filter_matches('{"price": [{"numeric": [">", 20, "test"]}]}', '{}');
SELECT pgmsg.filter_matches('{"price": [{"numeric": [">", 20, "<="]}]}', '{}');
SELECT pgmsg.filter_matches('{"price": [{"numeric": [">", "20", "<", "30"]}]}', '{}');
SELECT pgmsg.filter_matches('{"price": [{"numeric": [">", 20, "<", "30"]}]}', '{}');
SELECT pgmsg.filter_matches('{"price": [{"numeric": [">", 20, "<", 30, "<", 50]}]}', '{}');
SELECT pgmsg.filter_matches('{"price": [{"numeric": [">", 3, "<", 1]}]}', '{}');
SELECT pgmsg.filter_matches('{"price": [{"numeric": [">=", 5, "<=", 5]}]}', '{}');

-- anything-but
SELECT pgmsg.filter_matches('{"a": [{"anything-but": true}]}', '{}');
SELECT pgmsg.filter_matches('{"a": [{"anything-but": null}]}', '{}');
SELECT pgmsg.filter_matches('{"a": [{"anything-but": []}]}', '{}');
SELECT pgmsg.filter_matches('{"a": [{"anything-but": ["x", null]}]}', '{}');
SELECT pgmsg.filter_matches('{"a": [{"anything-but": ["x", 1]}]}', '{}');
SELECT pgmsg.filter_matches('{"a": [{"anything-but": [["x"]]}]}', '{}');
SELECT pgmsg.filter_matches('{"a": [{"anything-but": {"suffix": "test"}}]}', '{}');
SELECT pgmsg.filter_matches('{"a": [{"anything-but": {"equals-ignore-case": "test"}}]}', '{}');
SELECT pgmsg.filter_matches('{"a": [{"anything-but": {"exists": false}}]}', '{}');
SELECT pgmsg.filter_matches('{"a": [{"anything-but": {"prefix": false}}]}', '{}');
SELECT pgmsg.filter_matches('{"a": [{"anything-but": {"prefix": ""}}]}', '{}');
SELECT pgmsg.filter_matches('{"a": [{"anything-but": {"prefix": "a", "suffix": "b"}}]}', '{}');
SELECT pgmsg.filter_matches('{"a": [{"anything-but": {}}]}', '{}');

-- cidr
SELECT pgmsg.filter_matches('{"ip": [{"cidr": 10}]}', '{}');
SELECT pgmsg.filter_matches('{"ip": [{"cidr": "10.0.0.0"}]}', '{}');
SELECT pgmsg.filter_matches('{"ip": [{"cidr": "10.0.0/24"}]}', '{}');
SELECT pgmsg.filter_matches('{"ip": [{"cidr": "10.0.0.256/24"}]}', '{}');
SELECT pgmsg.filter_matches('{"ip": [{"cidr": "10.0.0.0/33"}]}', '{}');
SELECT pgmsg.filter_matches('{"ip": [{"cidr": "10.0.0.0/x"}]}', '{}');
SELECT pgmsg.filter_matches('{"ip": [{"cidr": "10.0.0.0/"}]}', '{}');
SELECT pgmsg.filter_matches('{"ip": [{"cidr": "10.0.0.0/8/8"}]}', '{}');
SELECT pgmsg.filter_matches('{"ip": [{"cidr": "2001:db8::/129"}]}', '{}');
SELECT pgmsg.filter_matches('{"ip": [{"cidr": "2001:db8:::1/64"}]}', '{}');

-- nesting: MessageAttributes is flat; MessageBody nests at most 16 objects deep
SELECT pgmsg.filter_matches('{"a": {"b": ["x"]}}', '{}');
SELECT pgmsg.filter_matches('{"$or": [{"a": {"b": ["x"]}}, {"c": ["y"]}]}', '{}');
SELECT pgmsg.filter_matches((repeat('{"a": ', 16) || '[{"exists": true}]' || repeat('}', 16))::jsonb,
                            NULL, (repeat('{"a": ', 16) || '1' || repeat('}', 16))::jsonb, 'MessageBody');
SELECT pgmsg.filter_matches((repeat('{"a": ', 17) || '[{"exists": true}]' || repeat('}', 17))::jsonb,
                            NULL, '{}', 'MessageBody');
SELECT pgmsg.filter_matches((repeat('{"$or": [{"b": ["x"]}, ', 16) || '{"a": ["x"]}' || repeat(']}', 16))::jsonb,
                            '{"a": "x"}');

-- "$or" that is not an OR is an ordinary key
SELECT pgmsg.filter_matches('{"$or": [{"a": ["x"]}]}', '{}');
SELECT pgmsg.filter_matches('{"$or": [{"numeric": 123}, {"prefix": "abc"}]}', '{}');
SELECT pgmsg.filter_matches('{"$or": [{"a": ["x"]}, {"prefix": ["abc"]}]}', '{}');
SELECT pgmsg.filter_matches('{"$or": [{"a": ["x"]}, {}]}', '{}');
SELECT pgmsg.filter_matches('{"detail": {"$or": [{"x": ["1"]}, {"y": [{"numeric": ["<"]}]}]}}', NULL, '{}', 'MessageBody');

-- at most 5 keys
SELECT pgmsg.filter_matches('{"key1": ["value1"], "key2": ["value2"], "key3": ["value3"], "key4": ["value4"], "key5": ["value5"], "key6": ["value6"]}', '{}');
SELECT pgmsg.filter_matches('{"a": {"b": ["1"], "c": ["1"]}, "d": ["1"], "e": ["1"], "f": ["1"], "g": ["1"]}', NULL, '{}', 'MessageBody');
SELECT pgmsg.filter_matches('{"a": ["1"], "b": ["1"], "$or": [{"c": ["1"]}, {"d": ["1"]}, {"e": ["1"], "f": ["1"]}]}', '{}');
SELECT pgmsg.filter_matches('{"k01": ["1"], "k02": ["1"], "k03": ["1"], "k04": ["1"], "k05": ["1"], "k06": ["1"], "k07": ["1"], "k08": ["1"], "k09": ["1"], "k10": ["1"], "k11": ["1"], "k12": ["1"]}', '{}');

-- at most 150 combinations
SELECT pgmsg.filter_matches(jsonb_build_object('key', (SELECT jsonb_agg('value' || i) FROM generate_series(1, 151) i)), '{}');
SELECT pgmsg.filter_matches(jsonb_build_object('key', (SELECT jsonb_agg('value' || i) FROM generate_series(1, 150) i)), '{"key": "value150"}');
SELECT pgmsg.filter_matches(jsonb_build_object('key1', (SELECT jsonb_agg('value' || i) FROM generate_series(1, 100) i),
                                               'key2', (SELECT jsonb_agg('value' || i) FROM generate_series(1, 51) i)), '{}');
-- (4 x 6) + (4 x 4 x 4) + (4 x 4 x 4) = 152
SELECT pgmsg.filter_matches('{"source": ["aws.cloudwatch", "aws.events", "aws.test", "aws.test2"], "$or": [{"metricName": ["CPUUtilization", "ReadLatency", "t1", "t2", "t3", "t4"]}, {"metricType": ["MetricType", "TestType", "TestType2", "TestType3"], "$or": [{"metricId": [1234, 4321, 5678, 9012]}, {"spaceId": [1, 2, 3, 4]}]}]}', '{}');
-- (3 + 2) x (2x2 x (1x2 + 3x2)) = 160
SELECT pgmsg.filter_matches('{"$or": [{"metricName": ["CPUUtilization", "ReadLatency", "TestValue"]}, {"namespace": ["AWS/EC2", "AWS/ES"]}], "detail": {"scope": ["Service", "Test"], "$or": [{"source": ["aws.cloudwatch"]}, {"type": ["CloudWatch Alarm State Change", "TestValue", "TestValue2"]}]}}', NULL, '{}', 'MessageBody');
-- 3x4 x 2x3 x 1x3 = 216
SELECT pgmsg.filter_matches('{"key_a": {"key_b": {"key_c": ["value_one", "value_two", "value_three", "value_four"]}}, "key_d": {"key_e": ["value_one", "value_two", "value_three"]}, "key_f": ["value_one", "value_two", "value_three"]}', NULL, '{}', 'MessageBody');
SELECT pgmsg.filter_matches(jsonb_build_object('a', (SELECT jsonb_agg(i) FROM generate_series(1, 150) i),
                                               'b', (SELECT jsonb_agg(i) FROM generate_series(1, 150) i),
                                               'c', (SELECT jsonb_agg(i) FROM generate_series(1, 150) i),
                                               'd', (SELECT jsonb_agg(i) FROM generate_series(1, 150) i),
                                               'e', (SELECT jsonb_agg(i) FROM generate_series(1, 150) i),
                                               'f', '[1]'::jsonb), '{}');
SELECT pgmsg.filter_matches(jsonb_build_object('a', (SELECT jsonb_agg(i) FROM generate_series(1, 1000) i),
                                               'b', (SELECT jsonb_agg(i) FROM generate_series(1, 1000) i),
                                               'c', (SELECT jsonb_agg(i) FROM generate_series(1, 1000) i),
                                               'd', (SELECT jsonb_agg(i) FROM generate_series(1, 1000) i),
                                               'e', (SELECT jsonb_agg(i) FROM generate_series(1, 1000) i)), '{}');

-- at most 256 KB of JSON text
SELECT pgmsg.filter_matches(jsonb_build_object('key', (SELECT jsonb_agg(repeat('x', 2000)) FROM generate_series(1, 140))), '{}');

-- numbers in a policy lie between -1e9 and 1e9, with at most five digits
-- after the decimal point, as SNS has them
SELECT pgmsg.filter_matches('{"k": [{"numeric": [">", 1e400]}]}', '{"k": 1}');
SELECT pgmsg.filter_matches('{"k": [{"numeric": ["<", -1000000000.00001]}]}', '{"k": 1}');
SELECT pgmsg.filter_matches('{"k": [{"numeric": [">", 0, "<", 1000000001]}]}', '{"k": 1}');
SELECT pgmsg.filter_matches('{"k": [1000000001]}', '{"k": 1}');
SELECT pgmsg.filter_matches('{"k": [{"anything-but": [1, 1e10]}]}', '{"k": 1}');
SELECT pgmsg.filter_matches('{"k": [{"numeric": ["=", 0.000001]}]}', '{"k": 1}');
SELECT pgmsg.filter_matches('{"k": [0.123456]}', '{"k": 1}');
SELECT pgmsg.filter_matches('{"k": [{"numeric": [">=", -1e9, "<=", 1e9]}]}', '{"k": 1e9}') AS at_the_limit,
       pgmsg.filter_matches('{"k": [{"numeric": [">=", -1e9, "<=", 1e9]}]}', '{"k": 1.0e10}') AS message_values_are_free,
       pgmsg.filter_matches('{"k": [0.00001]}', '{"k": 0.000010}') AS five_digits,
       pgmsg.filter_matches('{"k": [1.5000000]}', '{"k": 1.5}') AS trailing_zeros;
-- message numbers compare exactly, whatever their size
SELECT pgmsg.filter_matches('{"k": [{"numeric": ["<", 1]}]}', '{"k": 0.99999999999999999999999}') AS just_below,
       pgmsg.filter_matches('{"k": [123456789]}', '{"k": 123456789.00000000000000000001}') AS not_equal,
       pgmsg.filter_matches('{"k": [{"anything-but": [5]}]}', '{"k": [5.0, 6]}') AS array_other,
       pgmsg.filter_matches('{"k": [{"numeric": [">", 100]}]}', '{"k": [1, [2, [300]]]}') AS nested_arrays;
