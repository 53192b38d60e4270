#!/usr/bin/perl
# SPDX-License-Identifier: Apache-2.0
# Mail::DKIM sign/verify rates (RSA-2048 only: Debian's 1.20230212 has no Ed25519), same text
# messages as dkim_throughput. Usage: dkim_mail_dkim.pl KEYFILE TXT [seconds]
use strict;
use warnings;
use Mail::DKIM::Signer;
use Mail::DKIM::Verifier;
use Net::DNS::RR;

my ($keyfile, $txt, $seconds) = @ARGV;
$seconds ||= 1.0;
no warnings 'redefine';
*Mail::DKIM::DNS::query = sub {
    my ($domain, $type) = @_;
    $@ = 'NOERROR';
    return (Net::DNS::RR->new(name => $domain, type => 'TXT', txtdata => [unpack('(A255)*', $txt)]));
};
my @words = qw(the quick brown fox jumps over lazy dog mail server message delivery queue signature domain and of to a in);
sub message {
    my ($size) = @_;
    my $m = "From: Joe <joe\@example.com>\r\nTo: Suzie <suzie\@example.net>\r\nSubject: benchmark message\r\n"
          . "Date: Mon, 1 Jan 2024 00:00:00 +0000\r\nMessage-ID: <bench\@example.com>\r\nMIME-Version: 1.0\r\n"
          . "Content-Type: text/plain; charset=utf-8\r\n\r\n";
    my ($line, $seed) = ('', 7);
    while (length($m) < $size) {
        $seed = ($seed * 1103515245 + 12345) % 4294967296;
        my $w = $words[($seed >> 16) % 20];
        if (length($line) + length($w) + 1 > 76) { $m .= "$line\r\n"; $line = ''; }
        $line = $line eq '' ? $w : "$line $w";
    }
    return "$m$line\r\n";
}
sub cpu { my @t = times; return $t[0] + $t[1]; }
sub rate {
    my ($f) = @_;
    $f->();
    my ($n, $start) = (0, cpu());  # CPU time, like openssl speed
    while (1) { $f->() for 1 .. 4; $n += 4; my $el = cpu() - $start; return $n / $el if $el >= $seconds; }
}
for my $size (4096, 102400) {
    my $m = message($size);
    my $sk = int($size / 1024) . 'k';
    my $sign = sub {
        my $s = Mail::DKIM::Signer->new(Algorithm => 'rsa-sha256', Method => 'relaxed/relaxed',
            Domain => 'example.com', Selector => 'sel', KeyFile => $keyfile);
        $s->PRINT($m); $s->CLOSE; return $s->signature->as_string;
    };
    printf "maildkim_sign_rsa2048_%s_per_s %.1f ops/s\n", $sk, rate($sign);
    my $signed = $sign->() . "\r\n" . $m;
    printf "maildkim_verify_rsa2048_%s_per_s %.1f ops/s\n", $sk, rate(sub {
        my $v = Mail::DKIM::Verifier->new(); $v->PRINT($signed); $v->CLOSE;
        die "verify failed: " . $v->result_detail if $v->result ne 'pass';
    });
}
