# The push tests' fake endpoints, checked on their own before pgmsg is
# pointed at them: the fake SNS against requests signed by curl's own SigV4
# signer (the one libcurl gives pgmsg), the webhook receiver against Standard
# Webhooks signatures made here; their answers, fault modes and records.
use strict;
use warnings;
use Digest::SHA qw(hmac_sha256_base64);
use File::Temp qw(tempfile);
use IPC::Run;
use MIME::Base64 qw(encode_base64 decode_base64);
use PostgreSQL::Test::Utils;
use Test::More;
use t::PushFake;

my $XMLNS = 'https://sns.amazonaws.com/doc/2010-03-31/';
my $tmp = PostgreSQL::Test::Utils::tempdir;

sub uri_escape
{
	my ($s) = @_;
	utf8::upgrade($s);
	utf8::encode($s);
	$s =~ s/([^A-Za-z0-9\-._~])/sprintf('%%%02X', ord $1)/ge;
	return $s;
}

# curl(@args): curl's exit status, body and HTTP status; the body travels in
# a file, as a large one would not fit in an argument.
sub curl
{
	my (@args) = @_;
	my ($out, $err) = ('', '');
	IPC::Run::run([ 'curl', '-sS', '--max-time', '60', '-i', @args ],
		'>', \$out, '2>', \$err);
	my $rc = $? >> 8;
	my ($head, $body) = split /\r\n\r\n/, $out, 2;
	# With -L, each response of the chain has its head: keep the last.
	($head, $body) = split /\r\n\r\n/, $body, 2 while ($body // '') =~ m{^HTTP/};
	my ($status) = ($head // '') =~ m{^HTTP/\S+ (\d+)};
	my %h;
	$h{ lc $1 } = $2 while ($head // '') =~ /^([\w-]+): ([^\r\n]*)/mg;
	return { rc => $rc, status => $status // 0, body => $body // '', headers => \%h, err => $err };
}

# sns_args($fake, \@params, %opt): curl's arguments for a Query API call
# with form parameters @params, signed as pgmsg signs (user, region override).
sub sns_args
{
	my ($fake, $params, %opt) = @_;
	my @p = @$params;
	my @pairs;
	push @pairs, uri_escape(shift @p) . '=' . uri_escape(shift @p) while @p;
	my ($fh, $file) = tempfile(DIR => $tmp);
	print $fh join('&', @pairs);
	close $fh;
	my $region = $opt{region} // $fake->region;
	my $user = $opt{user} // $fake->access_key . ':' . $fake->secret_key;
	my @args = (
		'--aws-sigv4', "aws:amz:$region:" . ($opt{service} // 'sns'),
		'--user', $user,
		'-H', 'Content-Type: ' . ($opt{content_type} // 'application/x-www-form-urlencoded; charset=utf-8'),
		'--data-binary', "\@$file");
	push @args, '-H', $_ for @{ $opt{headers} // [] };
	push @args, @{ $opt{curl} // [] };
	return (@args, $opt{url} // $fake->url . '/');
}

sub sns
{
	my ($fake, $params, %opt) = @_;
	return curl(sns_args($fake, $params, %opt));
}

# batch($arn, [$id, $message, %fields], ...): PublishBatch parameters.
sub batch
{
	my ($arn, @entries) = @_;
	my @p = (Action => 'PublishBatch', Version => '2010-03-31', TopicArn => $arn);
	my $i = 0;
	for my $e (@entries)
	{
		my ($id, $msg, %f) = @$e;
		my $pre = 'PublishBatchRequestEntries.member.' . ++$i . '.';
		push @p, "${pre}Id" => $id, "${pre}Message" => $msg;
		my $j = 0;
		for my $a (@{ delete $f{attributes} // [] })
		{
			my $ap = "${pre}MessageAttributes.entry." . ++$j . '.';
			push @p, "${ap}Name" => $a->[0], "${ap}Value.DataType" => $a->[1];
			push @p, ($a->[1] =~ /^Binary/ ? "${ap}Value.BinaryValue" : "${ap}Value.StringValue") => $a->[2];
		}
		push @p, "$pre$_" => $f{$_} for sort keys %f;
	}
	return \@p;
}

sub xml_ok
{
	my ($res, $root, $name) = @_;
	my $doc = eval { t::PushFake::parse_xml($res->{body}) };
	ok($doc, "$name: well-formed XML") or diag("$@$res->{body}");
	return undef unless $doc;
	is($doc->{name}, $root, "$name: root element $root");
	is($doc->{attrs}{xmlns}, $XMLNS, "$name: SNS namespace");
	return $doc;
}

# xtext($element, @names): the text of a descendant, undef if there is none.
sub xtext
{
	my $el = t::PushFake::xml_child(@_);
	return $el ? $el->{text} : undef;
}

sub sns_error_is
{
	my ($res, $status, $code, $name) = @_;
	is($res->{status}, $status, "$name: HTTP $status");
	my $doc = xml_ok($res, 'ErrorResponse', $name) or return;
	is(xtext($doc, 'Error', 'Code'), $code, "$name: $code");
	my $type = xtext($doc, 'Error', 'Type');
	is($type, $status >= 500 ? 'Receiver' : 'Sender', "$name: error type");
	like(xtext($doc, 'RequestId'), qr/^[0-9a-f-]{36}$/, "$name: RequestId");
}

# members($doc, 'Successful' | 'Failed'): each member's fields as a hash.
sub members
{
	my ($doc, $list) = @_;
	my $l = t::PushFake::xml_child($doc, 'PublishBatchResult', $list) or return undef;
	return [ map { my $m = $_; +{ map { $_->{name} => $_->{text} } @{ $m->{children} } } }
		  @{ $l->{children} } ];
}

############################################################################
# Fake SNS: signatures

my $sns = t::PushFake->start_sns(access_key => 'AKIAFAKE0000000000001', secret_key => 'fake/secret+key');
my $arn = $sns->topic_arn('orders');
my $arn2 = $sns->topic_arn('audit');
my $fifo = $sns->topic_arn('ledger.fifo');
like($sns->url, qr{^http://127\.0\.0\.1:\d+$}, 'fake SNS listens on 127.0.0.1');

my $res = sns($sns, batch($arn,
		[ 'm1', "hello & <world> \x{e9}", attributes => [ [ 'color', 'String', 'red' ], [ 'n', 'Number', '42.5' ], [ 'blob', 'Binary', encode_base64("\0\1\2", '') ] ] ],
		[ 'm-2_b', 'second', MessageGroupId => 'g1' ]));
is($res->{status}, 200, 'signed PublishBatch accepted') or diag($res->{body});
my $doc = xml_ok($res, 'PublishBatchResponse', 'PublishBatch');
my $succ = members($doc, 'Successful');
is_deeply([ map { $_->{Id} } @$succ ], [ 'm1', 'm-2_b' ], 'both entries in Successful, in order');
like($succ->[0]{MessageId}, qr/^[0-9a-f-]{36}$/, 'MessageId is a UUID');
ok(!exists $succ->[0]{SequenceNumber}, 'no SequenceNumber on a standard topic');
is_deeply(members($doc, 'Failed'), [], 'Failed is empty');
like(xtext($doc, 'ResponseMetadata', 'RequestId'), qr/^[0-9a-f-]{36}$/, 'RequestId in ResponseMetadata');
is($res->{headers}{'content-type'}, 'text/xml', 'XML content type');

my $got = $sns->received;
is(scalar @{ $got->{entries} }, 2, 'two entries recorded');
my ($e1, $e2) = @{ $got->{entries} };
is($e1->{message}, "hello & <world> \x{e9}", 'message recorded as sent (UTF-8, form-decoded)');
is($e1->{topic_arn}, $arn, 'topic ARN recorded');
is($e1->{id}, 'm1', 'batch entry Id recorded');
is($e1->{message_id}, $succ->[0]{MessageId}, 'recorded MessageId is the one answered');
is_deeply($e1->{attributes}, {
		color => { data_type => 'String', string_value => 'red' },
		n => { data_type => 'Number', string_value => '42.5' },
		blob => { data_type => 'Binary', binary_value => 'AAEC' } },
	'attributes recorded with their types');
is($e2->{group_id}, 'g1', 'MessageGroupId recorded');
ok($e1->{signature_verified} && $e1->{request} == 1 && $e2->{request} == 1, 'entries carry their request and its verified signature');
is($got->{requests}[0]{action}, 'PublishBatch', 'request recorded');
is_deeply($got->{counts}, { ok => 1 }, 'counted as ok');

$res = sns($sns, batch($arn, [ 'x', 'never' ]), user => $sns->access_key . ':wrong-secret');
sns_error_is($res, 403, 'SignatureDoesNotMatch', 'wrong secret');
$res = sns($sns, batch($arn, [ 'x', 'never' ]), user => 'AKIAUNKNOWN000000000:' . $sns->secret_key);
sns_error_is($res, 403, 'InvalidClientTokenId', 'unknown access key');
$res = sns($sns, batch($arn, [ 'x', 'never' ]), region => 'eu-west-1');
sns_error_is($res, 403, 'SignatureDoesNotMatch', 'credential scoped to another region');
$res = sns($sns, batch($arn, [ 'x', 'never' ]), service => 'sqs');
sns_error_is($res, 403, 'SignatureDoesNotMatch', 'credential scoped to another service');
$res = curl('--data-binary', 'Action=Publish&Version=2010-03-31', $sns->url . '/');
sns_error_is($res, 403, 'MissingAuthenticationToken', 'unsigned request');
$res = sns($sns, batch($arn, [ 'x', 'never' ]), headers => [ 'X-Amz-Security-Token: unexpected' ]);
sns_error_is($res, 403, 'InvalidClientTokenId', 'session token the fake does not expect');
# A signed request replayed as it was is accepted (within the 15 minutes
# SNS allows); with its body changed on the way, it is not.
$res = sns($sns, batch($arn, [ 'r', 'original' ]));
is($res->{status}, 200, 'request to replay accepted');
my %signed = %{ $sns->requests->[-1]{headers} };
my $replay = sub {
	my ($body) = @_;
	my $r = HTTP::Tiny->new->request('POST', $sns->url . '/', {
			headers => { map { $_ => $signed{$_} } qw(authorization x-amz-date content-type) },
			content => $body });
	return { status => $r->{status}, body => $r->{content} };
};
$res = $replay->(join('&', 'Action=PublishBatch', 'Version=2010-03-31', 'TopicArn=' . uri_escape($arn),
		'PublishBatchRequestEntries.member.1.Id=r', 'PublishBatchRequestEntries.member.1.Message=original'));
is($res->{status}, 200, 'replayed unchanged: accepted') or diag($res->{body});
$res = $replay->(join('&', 'Action=PublishBatch', 'Version=2010-03-31', 'TopicArn=' . uri_escape($arn),
		'PublishBatchRequestEntries.member.1.Id=r', 'PublishBatchRequestEntries.member.1.Message=forged'));
sns_error_is($res, 403, 'SignatureDoesNotMatch', 'body changed after signing');
$got = $sns->received;
is_deeply([ map { $_->{message} } @{ $got->{entries} } ], [ "hello & <world> \x{e9}", 'second', 'original', 'original' ],
	'no entry recorded from a refused request');
is($got->{counts}{bad_signature}, 4, 'bad signatures counted');
is_deeply([ map { $_->{signature_verified} ? 1 : 0 } @{ $got->{requests} } ], [ 1, (0) x 6, 1, 1, 0 ],
	'requests recorded with their verdicts');

############################################################################
# Fake SNS: validation

$res = sns($sns, batch($arn, map { [ "e$_", "m$_" ] } 1 .. 11));
sns_error_is($res, 400, 'TooManyEntriesInBatchRequest', '11 entries');
$res = sns($sns, [ Action => 'PublishBatch', Version => '2010-03-31', TopicArn => $arn ]);
sns_error_is($res, 400, 'EmptyBatchRequest', 'no entries');
$res = sns($sns, batch($arn, [ 'same', 'a' ], [ 'same', 'b' ]));
sns_error_is($res, 400, 'BatchEntryIdsNotDistinct', 'duplicate Ids');
$res = sns($sns, batch($arn, [ 'bad id!', 'a' ]));
sns_error_is($res, 400, 'InvalidBatchEntryId', 'Id with a space');
$res = sns($sns, batch($arn, [ 'a', 'x' x 131072 ], [ 'b', 'y' x 131073 ]));
sns_error_is($res, 400, 'BatchRequestTooLong', 'a byte over 256 KiB in all');
$res = sns($sns, batch($arn, [ 'a', 'x' x 131064, attributes => [ [ 'k', 'String', 'v' ] ] ], [ 'b', 'y' x 131072 ]));
is($res->{status}, 200, 'exactly 256 KiB with attributes accepted') or diag($res->{body});
$res = sns($sns, batch($arn, [ 'a', 'x' x 131065, attributes => [ [ 'k', 'String', 'v' ] ] ], [ 'b', 'y' x 131072 ]));
sns_error_is($res, 400, 'BatchRequestTooLong', 'attributes count toward the size');
$res = sns($sns, batch($arn, [ 'a', '' ]));
sns_error_is($res, 400, 'InvalidParameter', 'empty message');
$res = sns($sns, batch($fifo, [ 'a', 'x', MessageDeduplicationId => 'd1' ]));
sns_error_is($res, 400, 'InvalidParameter', 'FIFO topic without MessageGroupId');
$res = sns($sns, batch($arn, [ 'a', 'x', MessageDeduplicationId => 'd1' ]));
sns_error_is($res, 400, 'InvalidParameter', 'deduplication id on a standard topic');
$res = sns($sns, batch($arn, [ 'a', 'x', attributes => [ [ 'n', 'Number', 'abc' ] ] ]));
sns_error_is($res, 400, 'InvalidParameterValue', 'Number attribute that is no number');
$res = sns($sns, batch('arn:aws:sns:eu-west-1:123456789012:orders', [ 'a', 'x' ]));
sns_error_is($res, 400, 'InvalidParameter', 'topic in another region');
$res = sns($sns, [ Action => 'DeleteTopic', Version => '2010-03-31', TopicArn => $arn ]);
sns_error_is($res, 400, 'InvalidAction', 'unsupported action');
$res = sns($sns, [ Action => 'Publish', TopicArn => $arn, Message => 'x' ]);
sns_error_is($res, 400, 'MissingParameter', 'no Version');
is(scalar @{ $sns->entries }, 6, 'only the valid batch was recorded');

# FIFO: sequence numbers, and a deduplication id seen before is accepted
# without a second delivery.
$res = sns($sns, batch($fifo, [ 'a', 'one', MessageGroupId => 'g', MessageDeduplicationId => 'd1' ],
		[ 'b', 'two', MessageGroupId => 'g', MessageDeduplicationId => 'd2' ]));
$succ = members(xml_ok($res, 'PublishBatchResponse', 'FIFO batch'), 'Successful');
like($succ->[0]{SequenceNumber}, qr/^\d{20}$/, 'FIFO entries get a SequenceNumber');
ok($succ->[1]{SequenceNumber} > $succ->[0]{SequenceNumber}, 'sequence numbers increase');
$res = sns($sns, batch($fifo, [ 'c', 'one again', MessageGroupId => 'g', MessageDeduplicationId => 'd1' ]));
my $dup = members(xml_ok($res, 'PublishBatchResponse', 'FIFO duplicate'), 'Successful');
is($dup->[0]{MessageId}, $succ->[0]{MessageId}, 'a duplicate gets the first copy\'s MessageId');
ok($sns->entries->[-1]{duplicate}, 'the duplicate is recorded as one');

# The signing time must be within 15 minutes of the fake's clock.
$sns->configure(clock_offset_s => 3600);
$res = sns($sns, batch($arn, [ 'a', 'late' ]));
sns_error_is($res, 403, 'SignatureDoesNotMatch', 'signed an hour before the fake\'s clock');
like(xtext(t::PushFake::parse_xml($res->{body}), 'Error', 'Message'), qr/^Signature expired: /, 'signature expired');
$sns->configure(clock_offset_s => -3600);
like(xtext(t::PushFake::parse_xml(sns($sns, batch($arn, [ 'a', 'early' ]))->{body}), 'Error', 'Message'),
	qr/^Signature not yet current: /, 'signed an hour after the fake\'s clock');
$sns->configure(clock_offset_s => 0);

# As SNS, the body is read as parameters only when it is a form.
$res = sns($sns, batch($arn, [ 'a', 'x' ]), content_type => 'text/plain');
sns_error_is($res, 400, 'MissingAction', 'body that is not a form');

# Publish, for completeness.
$res = sns($sns, [ Action => 'Publish', Version => '2010-03-31', TopicArn => $arn, Message => 'single', Subject => 'hi' ]);
$doc = xml_ok($res, 'PublishResponse', 'Publish');
like(xtext($doc, 'PublishResult', 'MessageId'), qr/^[0-9a-f-]{36}$/, 'Publish answers a MessageId');
is($sns->entries->[-1]{subject}, 'hi', 'Publish recorded with its subject');

############################################################################
# Fake SNS: fault modes

$sns->reset;
$sns->set_mode(mode => 'throttle');
sns_error_is(sns($sns, batch($arn, [ 'a', 'x' ])), 400, 'Throttling', 'throttle');
$sns->set_mode(mode => 'throttle', status => 429, retry_after => 2);
$res = sns($sns, batch($arn, [ 'a', 'x' ]));
sns_error_is($res, 429, 'Throttling', 'throttle as 429');
is($res->{headers}{'retry-after'}, '2', 'with Retry-After');
$sns->set_mode(mode => 'error500');
sns_error_is(sns($sns, batch($arn, [ 'a', 'x' ])), 500, 'InternalError', 'error500');
$sns->set_mode(mode => 'badcreds');
sns_error_is(sns($sns, batch($arn, [ 'a', 'x' ])), 403, 'InvalidClientTokenId', 'badcreds');
$sns->set_mode(mode => 'notfound');
sns_error_is(sns($sns, batch($arn, [ 'a', 'x' ])), 404, 'NotFound', 'notfound');
$sns->set_mode(mode => 'forbidden');
sns_error_is(sns($sns, batch($arn, [ 'a', 'x' ])), 403, 'AuthorizationError', 'forbidden');
is(scalar @{ $sns->entries }, 0, 'no entry recorded by a failing mode');

$sns->set_mode(mode => 'throttle', times => 2);
is(sns($sns, batch($arn, [ 'a', 'x' ]))->{status}, 400, 'throttle with times: first');
is(sns($sns, batch($arn, [ 'a', 'x' ]))->{status}, 400, 'throttle with times: second');
is(sns($sns, batch($arn, [ 'a', 'x' ]))->{status}, 200, 'throttle with times: then accepted');

$sns->set_mode(mode => 'partial', marker => 'FAILME', sender_fault => 0);
$res = sns($sns, batch($arn, [ 'a', 'fine' ], [ 'b', 'please FAILME' ], [ 'c', 'fine too' ]));
$doc = xml_ok($res, 'PublishBatchResponse', 'partial');
is_deeply([ map { $_->{Id} } @{ members($doc, 'Successful') } ], [ 'a', 'c' ], 'partial: unmarked entries succeed');
is_deeply(members($doc, 'Failed'), [ { Id => 'b', Code => 'InternalError', Message => 'Internal Error', SenderFault => 'false' } ],
	'partial: marked entry fails, not the sender\'s fault');
$sns->set_mode(mode => 'partial', every => 2, sender_fault => 1);
$res = sns($sns, batch($arn, map { [ "e$_", "m$_" ] } 1 .. 4));
$doc = xml_ok($res, 'PublishBatchResponse', 'partial every 2');
is_deeply([ map { "$_->{Id} $_->{Code} $_->{SenderFault}" } @{ members($doc, 'Failed') } ],
	[ 'e2 InvalidParameter true', 'e4 InvalidParameter true' ], 'partial every 2: every second entry fails, the sender\'s fault');
$got = $sns->received;
is(scalar @{ $got->{failed} }, 3, 'failed entries recorded apart');
is_deeply([ map { $_->{message} } @{ $got->{entries} } ], [ 'x', 'fine', 'fine too', 'm1', 'm3' ],
	'accepted entries recorded, partial batches\' too');

# One topic hangs while another is served; the hung request is answered
# once its topic's mode changes.
$sns->reset(modes => 1);
$sns->set_mode(mode => 'hang', topic => $arn);
my $hung = { out => '' };
$hung->{h} = IPC::Run::start([ 'curl', '-sS', '--max-time', '120', '-o', '/dev/null', '-w', '%{http_code}',
		sns_args($sns, batch($arn, [ 'h', 'held' ])) ], '>', \$hung->{out}, '2>', \my $hung_err);
ok($sns->wait_for(sub { $_[0]{hung} == 1 }), 'request to the hanging topic is held');
is(sns($sns, batch($arn2, [ 'a', 'other topic' ]))->{status}, 200, 'another topic is served meanwhile');
$sns->clear_mode(topic => $arn);
$hung->{h}->finish;
is($hung->{out}, '200', 'held request answered once its topic no longer hangs');
$got = $sns->received;
is_deeply([ sort map { $_->{message} } @{ $got->{entries} } ], [ 'held', 'other topic' ], 'both recorded');
is($got->{counts}{hang}, 1, 'hang counted');

# A client that gives up on a hung request.
$sns->set_mode(mode => 'hang');
$res = sns($sns, batch($arn, [ 'a', 'x' ]), curl => [ '--max-time', '1' ]);
is($res->{rc}, 28, 'client times out on a hanging fake');
ok($sns->wait_for(sub { ($_[0]{counts}{abandoned} // 0) == 1 && $_[0]{hung} == 0 }), 'abandoned request counted');

$sns->set_mode(mode => 'down');
$res = sns($sns, batch($arn, [ 'a', 'x' ]));
is($res->{rc}, 52, 'down: connection closed without an answer');
$sns->set_mode(mode => 'refuse');
$res = sns($sns, batch($arn, [ 'a', 'x' ]));
is($res->{rc}, 7, 'refuse: connection refused');
$sns->set_mode(mode => 'ok', latency_ms => 10);
is(sns($sns, batch($arn, [ 'a', 'back' ]))->{status}, 200, 'listening again after refuse, with latency');
is($sns->entries->[-1]{message}, 'back', 'recorded after refuse');
is_deeply($sns->summary, { entries => 3, failed => 0, requests => 5, hung => 0,
		counts => { ok => 3, hang => 2, abandoned => 1, down => 1 } },
	'summary counts without the records');

my $err = eval { $sns->set_mode(mode => 'sideways'); 1 } ? '' : $@;
like($err, qr/400 .*unknown mode ..sideways/, 'unknown mode refused by the control API');
$err = eval { $sns->set_mode(mode => 'refuse', topic => $arn); 1 } ? '' : $@;
like($err, qr/400 .*takes no ..topic/, 'refuse is for the whole port only');

$sns->reset;
is_deeply($sns->received->{entries}, [], 'reset clears the records');
is($sns->stop, 0, 'fake SNS exits cleanly on SIGTERM');

############################################################################
# Fake SNS: session token, TLS

my $sts = t::PushFake->start_sns(session_token => 'FQoGZXIvYXdzEXAMPLETOKEN', region => 'eu-central-1', tls => 1);
like($sts->url, qr{^https://127\.0\.0\.1:\d+$}, 'TLS fake SNS');
ok(-s $sts->ca_file, 'its certificate is there to trust');
my $tarn = $sts->topic_arn('secure');
$res = sns($sts, batch($tarn, [ 'a', 'x' ]), curl => [ '--cacert', $sts->ca_file ]);
sns_error_is($res, 403, 'InvalidClientTokenId', 'missing session token');
$res = sns($sts, batch($tarn, [ 'a', 'x' ]), curl => [ '--cacert', $sts->ca_file ],
	headers => [ 'X-Amz-Security-Token: ' . $sts->session_token ]);
is($res->{status}, 200, 'signed with the session token, over TLS verified against the CA file') or diag($res->{body});
is($sts->requests->[-1]{headers}{'x-amz-security-token'}, '(redacted)', 'the token is not recorded');
$res = sns($sts, batch($tarn, [ 'a', 'x' ]), headers => [ 'X-Amz-Security-Token: ' . $sts->session_token ]);
is($res->{rc}, 60, 'without the CA file the certificate is not trusted');
$sts->stop;

############################################################################
# Webhook receiver

my $secret = 'whsec_' . encode_base64('0123456789abcdef0123456789abcdef', '');
my $hook = t::PushFake->start_webhook(secret => $secret);
my $http = HTTP::Tiny->new(max_redirect => 0, timeout => 60);

# post($path, $body, %opt): a POST signed as Standard Webhooks says, unless
# opt says otherwise.
sub post
{
	my ($path, $body, %opt) = @_;
	my $id = $opt{id} // 'msg_' . int(rand(1e9));
	my $ts = $opt{timestamp} // time;
	my $key = decode_base64(substr($opt{secret} // $secret, length 'whsec_'));
	my $sig = hmac_sha256_base64("$id.$ts.$body", $key);
	$sig .= '=' while length($sig) % 4;
	return $http->request('POST', $hook->url . $path, {
			headers => {
				'content-type' => 'application/json',
				'webhook-id' => $id,
				'webhook-timestamp' => $ts,
				'webhook-signature' => "v1,$sig" },
			content => $body });
}

my $r = post('/a', '{"Type":"Notification","Message":"hi"}', id => 'msg_1');
is($r->{status}, 200, 'signed webhook accepted');
my $rec = $hook->requests->[0];
is($rec->{path}, '/a', 'path recorded');
is($rec->{body}, '{"Type":"Notification","Message":"hi"}', 'body recorded');
is($rec->{json}{Message}, 'hi', 'JSON body decoded');
is($rec->{headers}{'webhook-id'}, 'msg_1', 'headers recorded');
ok($rec->{signature}{valid}, 'signature verified');

$r = post('/a', 'tampered', secret => 'whsec_' . encode_base64('another key', ''));
is($r->{status}, 401, 'wrong signature refused');
$r = post('/a', 'stale', timestamp => time - 3600);
is($r->{status}, 401, 'stale timestamp refused');
$r = $http->request('POST', $hook->url . '/a', { content => 'unsigned' });
is($r->{status}, 401, 'unsigned request refused');
is_deeply([ map { $_->{signature}{valid} ? 1 : 0 } @{ $hook->requests } ], [ 1, 0, 0, 0 ], 'verdicts recorded');

# Per-path modes.
$hook->configure(secret => undef);
$hook->set_mode(mode => 'status', status => 410, path => '/gone');
$hook->set_mode(mode => 'throttle', retry_after => 7, path => '/busy');
$hook->set_mode(mode => 'redirect', status => 301, path => '/moved');
$hook->set_mode(mode => 'ok', status => 204, path => '/quiet');
is(post('/gone', 'x')->{status}, 410, 'status mode per path');
$r = post('/busy', 'x');
is($r->{status}, 429, 'throttle answers 429');
is($r->{headers}{'retry-after'}, '7', 'with Retry-After');
$r = post('/moved', 'x');
is($r->{status}, 301, 'redirect');
is($r->{headers}{location}, $hook->url . '/redirected/moved', 'to the receiver itself');
is(post('/quiet', 'x')->{status}, 204, 'ok with another 2xx');
is(post('/other', 'x')->{status}, 200, 'other paths keep the default');
# A client that follows the redirect shows up as a request to its target.
$res = curl('-L', '--data-binary', 'x', $hook->url . '/moved');
is($res->{status}, 200, 'a redirect followed lands on the receiver');
is($hook->requests->[-1]{path}, '/redirected/moved', 'the follow-up request is recorded under /redirected');
$hook->reset;
$hook->set_mode(mode => 'status', status => 503);
is(post('/anything', 'x')->{status}, 503, 'default mode applies to every path');
$hook->set_mode(mode => 'ok');

$hook->set_mode(mode => 'hang', path => '/slow');
$hung = { out => '' };
$hung->{h} = IPC::Run::start([ 'curl', '-sS', '--max-time', '120', '-o', '/dev/null', '-w', '%{http_code}',
		'--data-binary', 'held', $hook->url . '/slow' ], '>', \$hung->{out}, '2>', \$hung_err);
ok($hook->wait_for(sub { $_[0]{hung} == 1 }), 'webhook request held');
is(post('/fast', 'x')->{status}, 200, 'another path is served meanwhile');
$hook->clear_mode(path => '/slow');
$hung->{h}->finish;
is($hung->{out}, '200', 'held webhook request answered once released');

$hook->set_mode(mode => 'down', path => '/drop');
is(curl('--data-binary', 'x', $hook->url . '/drop')->{rc}, 52, 'down: connection dropped');
my %counts = %{ $hook->counts };
is_deeply(\%counts, { ok => 2, status => 1, hang => 1, down => 1 }, 'outcomes counted since the reset');
$hook->stop;

# TLS receiver.
my $thook = t::PushFake->start_webhook(tls => 1);
$res = curl('--cacert', $thook->ca_file, '--data-binary', '{}', $thook->url . '/tls');
is($res->{status}, 200, 'webhook over TLS, verified against the CA file');
is($thook->requests->[0]{path}, '/tls', 'recorded');
$thook->stop;

done_testing();
