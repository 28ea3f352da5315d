# README.md's SQL examples, run as written.
#
# The convention (README.md, "Tests", says the same for authors):
#
# - Every block fenced as ```sql runs, in the order of the file, in one fresh
#   database where pgmsg is installed.  Each block runs in a psql session of
#   its own (psql -X -q), so what a block creates is there for the blocks
#   after it, but a transaction or a session setting cannot span two blocks.
# - A block fenced as ```sql no-run is shown but never run: examples that
#   need an outside service or another server.  Any other fence language
#   (sh, text, a bare fence) is not SQL and never runs.
# - A statement that ends with ";  -- returns VALUE" on its last line must
#   print VALUE as psql's unaligned, tuples-only output of it (columns
#   separated by "|").  "-- error: MESSAGE" instead says the statement fails
#   with that primary error message; the session goes on.
# - A ```text block right after a ```sql block, with only blank lines between,
#   is what psql prints for the block's last statement, as it prints it by
#   default (aligned, with headers and a row count).
# - In an expected value, message or text block, "..." stands for any text
#   within one line: receipts, timestamps and ages differ on every run.
#
# Any other error fails the block at that statement.  Each block is one test,
# named by its line and section; a failure says which statement (by line),
# with what was expected and what psql printed.
use strict;
use warnings;
use File::Basename;
use File::Spec;
use IPC::Run;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $readme = File::Spec->catfile(dirname(__FILE__), '..', 'README.md');

# Splits psql's output into the part each statement printed.
my $MARK = '@@pgmsg-readme-statement@@';

# The code blocks of a Markdown text, in order: each a hash of its fence's
# info string, the line of its first content line, the section it is in, its
# text, and for a running SQL block the ```text block that follows it, if any.
sub read_blocks
{
	my ($markdown) = @_;
	my @lines = split /^/, $markdown;

	my (@blocks, $open, $section);
	my $between = '';    # what lies between the previous block and this one
	for my $n (1 .. @lines)
	{
		my $line = $lines[ $n - 1 ];
		if ($open)
		{
			if ($line =~ /^ {0,3}$open->{fence}`*\s*$/)
			{
				push @blocks, $open;
				undef $open;
				$between = '';
				next;
			}
			$line =~ s/^ {0,$open->{indent}}//;
			$open->{text} .= $line;
			next;
		}
		if (my ($indent, $fence, $info) = $line =~ /^( {0,3})(```+)\s*([^`]*?)\s*$/)
		{
			$open = {
				fence => $fence,
				indent => length($indent),
				info => $info,
				line => $n + 1,
				section => $section // '(top)',
				text => '',
				adjacent => ($between !~ /\S/ && @blocks > 0),
			};
			next;
		}
		$section = $1 if $line =~ /^#+\s+(.*?)\s*$/;
		$between .= $line;
	}
	die "the code block opened before line $open->{line} is never closed\n"
	  if $open;

	# Attach each ```text block to the running SQL block right before it.
	my @kept;
	for my $block (@blocks)
	{
		if ($block->{info} eq 'text' && $block->{adjacent} && @kept && $kept[-1]{info} eq 'sql')
		{
			$kept[-1]{expected} = $block;
			next;
		}
		push @kept, $block;
	}
	return @kept;
}

# The statements of a block, split as psql splits them: each a hash of its
# text (without its terminator), the terminator (";" or a \g command), its
# first line in README.md, and the expectation its closing comment states.
# psql meta-commands on lines of their own (\x on, \set ...) are units of
# their own.  Returns the statements and a list of mistakes in the block.
#
# As in psql, a semicolon inside parentheses, or inside the BEGIN ... END of
# a CREATE FUNCTION or PROCEDURE with a standard SQL body, ends nothing.
sub split_statements
{
	my ($sql, $line) = @_;
	my (@units, @mistakes);
	my ($text, $start) = ('', undef);
	my ($parens, $blocks, $words) = (0, 0, '');
	my $pos = 0;
	my $len = length $sql;

	my $finish = sub {
		my ($terminator) = @_;
		push @units,
		  { text => $text, terminator => $terminator, line => $start, kind => 'sql' };
		($text, $start) = ('', undef);
		($parens, $blocks, $words) = (0, 0, '');
	};

	while ($pos < $len)
	{
		my $rest = substr($sql, $pos);
		my $token;
		if ($rest =~ /^\n/)
		{
			$line++;
			$text .= "\n" if defined $start;
			$pos++;
			next;
		}
		elsif ($rest =~ /^[ \t\r]+/)
		{
			$token = $&;
			$text .= $token if defined $start;
			$pos += length $token;
			next;
		}
		elsif ($rest =~ /^--[^\n]*/)
		{
			$token = $&;
			push @mistakes,
			  "line $line: \"$token\" must be on the line where a statement ends, after its \";\""
			  if $token =~ /^--\s*(?:returns\b|error:)/;
			$text .= $token if defined $start;
			$pos += length $token;
			next;
		}
		elsif ($rest =~ m{^/\*})
		{
			my $depth = 0;
			my $end = $pos;
			while ($end < $len)
			{
				my $two = substr($sql, $end, 2);
				if ($two eq '/*') { $depth++; $end += 2; }
				elsif ($two eq '*/') { $depth--; $end += 2; last if $depth == 0; }
				else { $end++; }
			}
			$token = substr($sql, $pos, $end - $pos);
		}
		elsif ($rest =~ /^\\/)
		{
			# A meta-command runs to the end of the line.  One of the \g family
			# sends the statement before it; any other stands alone.
			($token) = $rest =~ /^([^\n]*)/;
			if (defined $start && $token =~ /^\\g/)
			{
				$finish->($token);
			}
			elsif (defined $start)
			{
				push @mistakes,
				  "line $line: put \"$token\" on a line of its own, outside any statement";
			}
			else
			{
				push @units, { text => $token, line => $line, kind => 'meta' };
			}
			$pos += length $token;
			next;
		}
		elsif ($rest =~ /^;/ && ($parens > 0 || $blocks > 0))
		{
			$token = ';';
		}
		elsif ($rest =~ /^;/)
		{
			$start //= $line;
			$finish->(';');
			$pos++;
			# What the statement should print, on the line where it ends.
			if (substr($sql, $pos) =~ /^[ \t]*--[ \t]*(returns\b|error:)[ \t]*([^\n]*?)[ \t\r]*(?=\n|\z)/)
			{
				my ($what, $value) = ($1, $2);
				$units[-1]{ $what eq 'returns' ? 'returns' : 'error' } = $value;
				$pos += length $&;
			}
			next;
		}
		elsif ($rest =~ /^[Ee]'/ && ($pos == 0 || substr($sql, $pos - 1, 1) !~ /\w/))
		{
			($token) = $rest =~ /^([Ee]'(?:[^'\\]|\\.|'')*'?)/s;
		}
		elsif ($rest =~ /^'/)
		{
			($token) = $rest =~ /^('(?:[^']|'')*'?)/s;
		}
		elsif ($rest =~ /^"/)
		{
			($token) = $rest =~ /^("(?:[^"]|"")*"?)/s;
		}
		elsif ($rest =~ /^(\$(?:[A-Za-z_]\w*)?\$)/
			&& ($pos == 0 || substr($sql, $pos - 1, 1) !~ /[\w\$]/))
		{
			my $tag = $1;
			my $close = index($sql, $tag, $pos + length $tag);
			my $end = $close < 0 ? $len : $close + length $tag;
			$token = substr($sql, $pos, $end - $pos);
		}
		else
		{
			($token) = $rest =~ /^(\w+|.)/s;
			$parens++ if $token eq '(';
			$parens-- if $token eq ')' && $parens > 0;
			if ($token =~ /^[A-Za-z_]/)
			{
				my $word = lc $token;
				if ($words =~ /^create (?:or replace )?(?:function|procedure)\b/)
				{
					$blocks++ if $word eq 'begin' || $word eq 'case';
					$blocks-- if $word eq 'end' && $blocks > 0;
				}
				$words .= "$word " if length($words) < 40;
			}
		}
		$start //= $line;
		$text .= $token;
		$line += ($token =~ tr/\n//);
		$pos += length $token;
	}
	push @mistakes, "line $start: the statement has no \";\" at its end"
	  if defined $start;
	return (\@units, \@mistakes);
}

# Does $got match $expected, where "..." in $expected stands for any text
# within a line?
sub matches
{
	my ($expected, $got) = @_;
	my $re = join '.*?', map { quotemeta } split /\.\.\./, $expected, -1;
	return $got =~ /\A$re\z/;
}

# Output as compared: no trailing blanks on a line, no blank lines around.
sub tidy
{
	my ($s) = @_;
	$s =~ s/[ \t\r]+$//mg;
	$s =~ s/\A\n+//;
	$s =~ s/\n+\z//;
	return $s;
}

sub indent
{
	my ($s) = @_;
	$s = '(nothing)' if $s eq '';
	$s =~ s/^/    /mg;
	return $s;
}

# Run one SQL block in database $dbname; returns the list of what went wrong.
sub run_block
{
	my ($node, $dbname, $block) = @_;
	my ($units, $mistakes) = split_statements($block->{text}, $block->{line});
	return @$mistakes if @$mistakes;
	return ('the block has no statement') unless @$units;

	my $script = '';
	for my $k (0 .. $#$units)
	{
		my $u = $units->[$k];
		$script .= "\\echo $MARK$k\n\\warn $MARK$k\n";
		if ($u->{kind} eq 'meta')
		{
			$script .= "$u->{text}\n";
			next;
		}
		$script .= "\\set ON_ERROR_STOP 0\n" if defined $u->{error};
		$script .= "$u->{text}\n";
		$script .= defined $u->{returns}
		  ? "\\g (format=unaligned tuples_only=on expanded=off)\n"
		  : "$u->{terminator}\n";
		$script .= "\\set ON_ERROR_STOP 1\n" if defined $u->{error};
	}
	$script .= "\\echo ${MARK}end\n\\warn ${MARK}end\n";

	my ($out, $err) = ('', '');
	IPC::Run::run(
		[
			'psql', '-X', '-q', '-v', 'ON_ERROR_STOP=1', '-v', 'VERBOSITY=default',
			'-P', 'pager=off', '-d', $node->connstr($dbname), '-f', '-'
		],
		'<', \$script, '>', \$out, '2>', \$err,
		IPC::Run::timeout($PostgreSQL::Test::Utils::timeout_default));

	# What each statement printed, by its index.  Error messages lose the
	# "psql:<stdin>:LINE:" prefix: those lines are of the script run, not of
	# README.md.
	$err =~ s/^psql:<stdin>:\d+: //mg;
	my (%out, %err);
	for my $pair ([ $out, \%out ], [ $err, \%err ])
	{
		my @parts = split /^\Q$MARK\E(\d+|end)\n/m, $pair->[0];
		shift @parts;
		while (my ($k, $text) = splice @parts, 0, 2)
		{
			$pair->[1]{$k} = $text // '';
		}
	}

	my @failures;
	for my $k (0 .. $#$units)
	{
		my $u = $units->[$k];
		my $what = "line $u->{line}";
		my $shown = indent($u->{text} . ($u->{terminator} // ''));
		unless (exists $out{$k})
		{
			push @failures, "$what never ran:\n$shown";
			last;
		}
		my $stderr = $err{$k} // '';
		my ($error) = $stderr =~ /^ERROR:\s+(.*)$/m;
		if (defined $u->{error})
		{
			if (!defined $error)
			{
				push @failures,
				  "$what should fail with \"$u->{error}\" but did not:\n$shown";
			}
			elsif (!matches($u->{error}, $error))
			{
				push @failures,
				  "$what fails with another error:\n$shown\n  expected: $u->{error}\n  got:      $error";
			}
			next;
		}
		if (defined $error || ($stderr =~ /\S/ && !exists $out{ $k + 1 }
				&& !($k == $#$units && exists $out{end})))
		{
			push @failures, "$what failed:\n$shown\n" . indent(tidy($stderr));
			last;
		}
		if (defined $u->{returns})
		{
			my $got = tidy($out{$k});
			push @failures,
			  "$what returns something else:\n$shown\n  expected: $u->{returns}\n  got:      "
			  . ($got =~ /\n/ ? "\n" . indent($got) : $got)
			  unless matches($u->{returns}, $got);
			next;
		}
	}
	if (!@failures && !exists $out{end})
	{
		push @failures, "psql stopped before the end of the block:\n" . indent(tidy($err));
	}
	if (!@failures && $block->{expected})
	{
		my $want = tidy($block->{expected}{text});
		my $got = tidy($out{$#$units});
		push @failures,
		  "the output differs from the text block at line $block->{expected}{line}:\n"
		  . "  expected:\n" . indent($want) . "\n  got:\n" . indent($got)
		  unless matches($want, $got);
	}
	return @failures;
}

# Check the checker: each way an example can be wrong must fail its block,
# saying why, and a right one must pass.
sub check_sample
{
	my ($node, $name, $markdown, $expect) = @_;
	my ($block) = grep { $_->{info} eq 'sql' } read_blocks($markdown);
	my $failures = join "\n", run_block($node, 'checker', $block);
	if (defined $expect)
	{
		like($failures, $expect, "the checker fails $name");
	}
	else
	{
		is($failures, '', "the checker passes $name");
	}
}

my $node = PostgreSQL::Test::Cluster->new('readme');
$node->init;
$node->append_conf('postgresql.conf', "shared_preload_libraries = 'pgmsg'\n");
$node->start;
$node->safe_psql('postgres', 'CREATE EXTENSION pgmsg');
$node->safe_psql('postgres', 'CREATE DATABASE checker');

check_sample($node, 'a block whose every check holds', <<'MD');
# Sample
```sql
\pset null (null)
SELECT 'a;b' AS "x;y", $q$ -- returns 9; $q$ AS text,   /* ; */
       E'\';' AS escaped;   -- returns a;b| -- returns 9; |';
SELECT now()::text;   -- returns 2...
SELECT 1 / 0;         -- error: division by ...
SELECT 'still here' AS word \gset
CREATE FUNCTION twice(i int) RETURNS int LANGUAGE sql
BEGIN ATOMIC
    SELECT CASE WHEN i IS NULL THEN 0 ELSE i * 2 END;
END;
SELECT twice(21), ';' || (SELECT ';');   -- returns 42|;;
SELECT :'word' AS word, 1 + 1 AS two, NULL AS nothing;
```

```text
    word    | two | nothing
------------+-----+---------
 still here |   2 | (null)
(1 row)
```
MD
check_sample($node, 'a statement that returns something else', <<'MD',
```sql
SELECT 1 + 1;  -- returns 3
```
MD
	qr/^line 2 returns something else:\n    SELECT 1 \+ 1;\n  expected: 3\n  got:      2$/m);
check_sample($node, 'an unexpected error', <<'MD',
```sql
SELECT 'before';
SELECT no_such_column;
SELECT 'after';
```
MD
	qr/\Aline 3 failed:\n    SELECT no_such_column;\n    ERROR:  column "no_such_column" does not exist\n(?:.*\n)*.*\z/);
check_sample($node, 'a statement that should fail and does not', <<'MD',
```sql
SELECT 1;  -- error: division by zero
```
MD
	qr/^line 2 should fail with "division by zero" but did not/);
check_sample($node, 'a statement that fails with another error', <<'MD',
```sql
SELECT 1 / 0;  -- error: permission denied
```
MD
	qr/^line 2 fails with another error:\n.*\n  expected: permission denied\n  got:      division by zero$/m);
check_sample($node, 'output that differs from its text block', <<'MD',
```sql
SELECT 41 AS answer;
```

```text
 answer
--------
     42
(1 row)
```
MD
	qr/^the output differs from the text block at line 6:\n  expected:\n(?:.*\n)* +42\n(?:.*\n)*  got:\n(?:.*\n)* +41$/m);
check_sample($node, 'a "-- returns" comment away from the end of its statement', <<'MD',
```sql
SELECT 1
  -- returns 1
;
```
MD
	qr/^line 3: "-- returns 1" must be on the line where a statement ends/);
check_sample($node, 'a statement without its semicolon', <<'MD',
```sql
SELECT 1;
SELECT 2
```
MD
	qr/^line 3: the statement has no ";" at its end$/);

my $markdown = do
{
	open my $fh, '<', $readme or die "cannot open $readme: $!";
	local $/;
	<$fh>;
};
my @blocks = read_blocks($markdown);

my @running = grep { $_->{info} eq 'sql' } @blocks;
ok(@running > 0, 'README.md has SQL examples to run');

# A typo in a fence must not quietly take an example out of the test.
for my $block (grep { $_->{info} =~ /^sql\b/i && $_->{info} ne 'sql' } @blocks)
{
	ok($block->{info} eq 'sql no-run',
		"README.md line $block->{line} ($block->{section}): fence \"```$block->{info}\" is \"```sql\" or \"```sql no-run\"");
}

for my $block (@running)
{
	my @failures = run_block($node, 'postgres', $block);
	ok(!@failures, "README.md line $block->{line} ($block->{section})")
	  or diag("README.md block at line $block->{line} ($block->{section}):\n"
		  . join("\n", map { "  $_" } @failures));
}

$node->stop;
done_testing();
