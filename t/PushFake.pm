# The push tests' remote endpoints: a fake SNS (test/push/fake-sns.js) and a
# webhook receiver (test/push/webhook.js), each a node process listening on
# 127.0.0.1, started and driven from a TAP test.
#
#   my $sns = t::PushFake->start_sns(access_key => 'AKID', secret_key => 'S');
#   my $arn = $sns->topic_arn('orders');
#   $sns->set_mode(mode => 'throttle', topic => $arn, times => 2);
#   ... point a push subscription at $sns->url ...
#   my $got = $sns->wait_for(sub { @{ $_[0]{entries} } >= 3 });
#   $sns->stop;
#
# The fakes run from test/push under the current directory (TAP tests run in
# the source tree), whose node_modules `npm ci` installed; PGMSG_PUSH_FAKES_DIR
# overrides that directory.  Their stderr goes to a log beside the test's.
package t::PushFake;

use strict;
use warnings;
use Carp;
use HTTP::Tiny;
use IO::Select;
use JSON::PP;
use POSIX ();
use Time::HiRes qw(usleep time);
use PostgreSQL::Test::Utils;
use Test::More;

my $started = 0;
my $json = JSON::PP->new->canonical;

# Mode parameters the fakes want as JSON numbers and booleans.
my @numeric = qw(latency_ms times status every retry_after);
my @boolean = qw(sender_fault);

# start_sns(access_key => ..., secret_key => ..., session_token => ...,
# region => ..., tls => 0|1, port => N): a running fake SNS.  Credentials
# default to fixed test values; the region to us-east-1.
sub start_sns
{
	my ($class, %args) = @_;
	my %env = (
		FAKE_SNS_ACCESS_KEY => $args{access_key} // 'AKIAPGMSGTEST0000001',
		FAKE_SNS_SECRET_KEY => $args{secret_key} // 'pgmsg-test-secret-key',
		FAKE_SNS_REGION => $args{region} // 'us-east-1',
		FAKE_SNS_SESSION_TOKEN => $args{session_token} // '');
	my $self = $class->_start('fake-sns', \%env, %args);
	$self->{access_key} = $env{FAKE_SNS_ACCESS_KEY};
	$self->{secret_key} = $env{FAKE_SNS_SECRET_KEY};
	$self->{region} = $env{FAKE_SNS_REGION};
	$self->{session_token} = $args{session_token};
	return $self;
}

# start_webhook(secret => 'whsec_...', tls => 0|1, port => N): a running
# webhook receiver, checking Standard Webhooks signatures when given a secret.
sub start_webhook
{
	my ($class, %args) = @_;
	my $self =
	  $class->_start('webhook', { WEBHOOK_SECRET => $args{secret} // '' },
		%args);
	$self->{secret} = $args{secret};
	return $self;
}

sub _start
{
	my ($class, $name, $env, %args) = @_;
	my $dir = $ENV{PGMSG_PUSH_FAKES_DIR} // 'test/push';
	croak "$dir/node_modules is missing: run \"npm ci\" in $dir"
	  unless -d "$dir/node_modules";
	my @cmd = ('node', "$dir/$name.js", $args{port} // 0);
	push @cmd, '--tls' if $args{tls};
	$started++;
	my $log = "$PostgreSQL::Test::Utils::log_path/${name}_$started.log";

	pipe(my $r, my $w) or croak "pipe: $!";
	my $pid = fork() // croak "fork: $!";
	if ($pid == 0)
	{
		# The child must not run the test's END blocks, whatever happens.
		close $r;
		@ENV{ keys %$env } = values %$env;
		open(STDIN, '<', '/dev/null')
		  && open(STDOUT, '>&', $w)
		  && open(STDERR, '>>', $log)
		  && exec(@cmd);
		print STDERR "could not start @cmd: $!\n";
		POSIX::_exit(127);
	}
	close $w;

	my $self = bless { name => $name, pid => $pid, stdout => $r, log => $log },
	  $class;
	my $line = '';
	my $sel = IO::Select->new($r);
	my $deadline = time + $PostgreSQL::Test::Utils::timeout_default;
	while ($line !~ /\n/)
	{
		my $left = $deadline - time;
		last if $left <= 0;
		next unless $sel->can_read($left);
		my $n = sysread($r, $line, 4096, length $line);
		last unless $n;
	}
	if ($line !~ /\n/)
	{
		$self->stop;
		croak "$name did not start; see $log";
	}
	my $info = decode_json($line);
	$self->{$_} = $info->{$_} for keys %$info;
	$self->{http} = HTTP::Tiny->new(
		timeout => $PostgreSQL::Test::Utils::timeout_default,
		keep_alive => 0);
	note "$name listening on $self->{url} (pid $pid)";
	return $self;
}

# Where the fake listens: the base URL ("http://127.0.0.1:PORT" or https),
# its port, and with tls the certificate to trust (its own CA).
sub url     { return $_[0]{url} }
sub port    { return $_[0]{port} }
sub ca_file { return $_[0]{ca_file} }
sub pid     { return $_[0]{pid} }
sub log_file { return $_[0]{log} }

# The fake SNS's credentials and region, and its webhook secret.
sub access_key    { return $_[0]{access_key} }
sub secret_key    { return $_[0]{secret_key} }
sub session_token { return $_[0]{session_token} }
sub region        { return $_[0]{region} }
sub secret        { return $_[0]{secret} }

# topic_arn($name [, $account]): a topic ARN in the fake's region.
sub topic_arn
{
	my ($self, $topic, $account) = @_;
	return "arn:aws:sns:$self->{region}:" . ($account // '123456789012') . ":$topic";
}

# control($method, $route [, \%body]): a control API call; dies unless it
# succeeded, returns the decoded answer.
sub control
{
	my ($self, $method, $route, $body) = @_;
	my %opt;
	if (defined $body)
	{
		%opt = (
			headers => { 'content-type' => 'application/json' },
			content => $json->encode($body));
	}
	my $res = $self->{http}
	  ->request($method, "$self->{control_url}/_control$route", \%opt);
	croak "$self->{name} control $method $route: $res->{status} $res->{content}"
	  unless $res->{success};
	return decode_json($res->{content});
}

# set_mode(mode => NAME, [topic => ARN | path => PATH], parameters...): see
# test/push/README.md for the modes and their parameters.
sub set_mode
{
	my ($self, %spec) = @_;
	for my $k (@numeric)
	{
		$spec{$k} = 0 + $spec{$k} if defined $spec{$k};
	}
	for my $k (@boolean)
	{
		$spec{$k} = $spec{$k} ? JSON::PP::true : JSON::PP::false
		  if exists $spec{$k};
	}
	return $self->control('POST', '/mode', \%spec);
}

# clear_mode(topic => ARN | path => PATH): back to the default mode there.
sub clear_mode
{
	my ($self, %key) = @_;
	return $self->control('POST', '/mode', { %key, mode => undef });
}

# configure(settings...): credentials, region or content-based deduplication
# of the fake SNS; secret (per path, or for all) of the webhook receiver.
sub configure
{
	my ($self, %settings) = @_;
	return $self->control('POST', '/config', \%settings);
}

# received: everything recorded so far, {entries, failed, requests, counts,
# hung} for the fake SNS, {requests, counts, hung} for the webhook receiver.
sub received
{
	my ($self) = @_;
	return $self->control('GET', '/received');
}

# summary: the counts alone, {counts, hung} and how many entries, failed
# entries and requests were recorded; cheap to poll when there are many.
sub summary
{
	my ($self) = @_;
	return $self->control('GET', '/summary');
}

sub entries  { return $_[0]->received->{entries} }
sub requests { return $_[0]->received->{requests} }
sub counts   { return $_[0]->received->{counts} }

# reset([modes => 1]): forget what was received (and, with modes, every mode).
sub reset
{
	my ($self, %opt) = @_;
	return $self->control('POST', '/reset',
		{ modes => $opt{modes} ? JSON::PP::true : JSON::PP::false });
}

# wait_for(sub { my $received = shift; ... } [, $timeout]): poll received
# until the sub returns true; returns what it last saw then, or undef once
# $timeout seconds (default: the TAP default timeout) passed without.
# wait_for_summary: the same, polling summary.
sub wait_for
{
	my ($self, $cond, $timeout) = @_;
	return $self->_poll('received', $cond, $timeout);
}

sub wait_for_summary
{
	my ($self, $cond, $timeout) = @_;
	return $self->_poll('summary', $cond, $timeout);
}

sub _poll
{
	my ($self, $what, $cond, $timeout) = @_;
	my $deadline = time + ($timeout // $PostgreSQL::Test::Utils::timeout_default);
	while (1)
	{
		my $got = $self->$what;
		return $got if $cond->($got);
		return undef if time > $deadline;
		usleep(100_000);
	}
}

# stop: SIGTERM, then wait for the process to exit (SIGKILL if it will not).
sub stop
{
	my ($self) = @_;
	my $pid = delete $self->{pid};
	return unless $pid;
	kill 'TERM', $pid;
	my $deadline = time + ($PostgreSQL::Test::Utils::timeout_default // 180);
	while (waitpid($pid, POSIX::WNOHANG()) == 0)
	{
		if (time > $deadline)
		{
			kill 'KILL', $pid;
			waitpid($pid, 0);
			last;
		}
		usleep(50_000);
	}
	$self->{exit_status} = $?;
	close $self->{stdout} if $self->{stdout};
	delete $self->{stdout};
	return $self->{exit_status};
}

# parse_xml($text): the document's root element as {name, attrs, children,
# text}, or die if it is not well-formed (the subset the fake SNS writes: an
# XML declaration, elements, attributes, text, the five predefined entities).
sub parse_xml
{
	my ($text) = @_;
	my %ent = (amp => '&', lt => '<', gt => '>', quot => '"', apos => "'");
	my $unescape = sub {
		my $s = shift;
		die "bad entity in \"$s\"\n" if $s =~ /&(?!(?:amp|lt|gt|quot|apos);)/;
		$s =~ s/&(\w+);/$ent{$1}/g;
		return $s;
	};
	$text =~ s/\A<\?xml[^?]*\?>//;
	my @stack = ({ children => [] });
	pos($text) = 0;
	while (pos($text) < length $text)
	{
		if ($text =~ /\G<([A-Za-z][\w.-]*)((?:\s+[\w:.-]+="[^"<]*")*)\s*(\/?)>/gc)
		{
			my %el = (name => $1, attrs => {}, children => [], text => '');
			my ($attrs, $empty) = ($2, $3);
			$el{attrs}{$1} = $unescape->($2) while $attrs =~ /([\w:.-]+)="([^"]*)"/g;
			push @{ $stack[-1]{children} }, \%el;
			push @stack, \%el unless $empty;
		}
		elsif ($text =~ /\G<\/([A-Za-z][\w.-]*)\s*>/gc)
		{
			die "unexpected </$1>\n" if @stack < 2 || $stack[-1]{name} ne $1;
			pop @stack;
		}
		elsif ($text =~ /\G([^<]+)/gc)
		{
			my $t = $1;
			die "text outside the root element\n" if @stack < 2 && $t =~ /\S/;
			$stack[-1]{text} .= $unescape->($t) if @stack >= 2;
		}
		else
		{
			die "malformed XML at offset " . pos($text) . "\n";
		}
	}
	die "unclosed <$stack[-1]{name}>\n" if @stack > 1;
	die "not exactly one root element\n" if @{ $stack[0]{children} } != 1;
	return $stack[0]{children}[0];
}

# xml_child($element, @names): the first descendant along a path of names.
sub xml_child
{
	my ($el, @names) = @_;
	return undef unless $el;
	for my $n (@names)
	{
		($el) = grep { $_->{name} eq $n } @{ $el->{children} };
		return undef unless $el;
	}
	return $el;
}

sub DESTROY
{
	my ($self) = @_;
	local ($?, $!, $@);
	$self->stop if $self->{pid};
}

1;
