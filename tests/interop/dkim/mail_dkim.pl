#!/usr/bin/perl
# SPDX-License-Identifier: Apache-2.0
# Mail::DKIM side of the DKIM interop test (driven by interop.py).
#   mail_dkim.pl verify ZONEFILE FILE...   prints "FILE<TAB>result<TAB>detail" per file
#   mail_dkim.pl sign KEYFILE ALG METHOD DOMAIN SELECTOR FILE...   writes FILE.sig (the field)
# DNS: Mail::DKIM::DNS::query is replaced by a lookup in ZONEFILE ("name<TAB>txt" lines), so
# nothing touches the network.
use strict;
use warnings;
use Mail::DKIM::Verifier;
use Mail::DKIM::Signer;
use Net::DNS::RR;

my $mode = shift @ARGV;
sub slurp { my ($f) = @_; open(my $fh, '<:raw', $f) or die "$f: $!"; local $/; my $d = <$fh>; close $fh; return $d; }

if ($mode eq 'verify') {
    my $zonefile = shift @ARGV;
    my %zone;
    for my $line (split /\n/, slurp($zonefile)) {
        my ($name, $txt) = split /\t/, $line, 2;
        $zone{lc $name} = $txt;
    }
    no warnings 'redefine';
    *Mail::DKIM::DNS::query = sub {
        my ($domain, $type) = @_;
        my $txt = $zone{lc $domain};
        if (!defined $txt) { $@ = 'NXDOMAIN'; return; }
        my @chunks = unpack('(A255)*', $txt);
        $@ = 'NOERROR';
        return (Net::DNS::RR->new(name => $domain, type => 'TXT', txtdata => [@chunks]));
    };
    for my $file (@ARGV) {
        my $v = Mail::DKIM::Verifier->new();
        $v->PRINT(slurp($file));
        $v->CLOSE;
        print "$file\t", $v->result, "\t", ($v->result_detail // ''), "\n";
    }
} elsif ($mode eq 'sign') {
    my ($keyfile, $alg, $method, $domain, $selector, @files) = @ARGV;
    for my $file (@files) {
        my $s = Mail::DKIM::Signer->new(Algorithm => $alg, Method => $method, Domain => $domain,
            Selector => $selector, KeyFile => $keyfile,
            Headers => 'from:to:subject:date:message-id:mime-version:content-type');
        $s->PRINT(slurp($file));
        $s->CLOSE;
        open(my $out, '>:raw', "$file.sig") or die;
        print $out $s->signature->as_string, "\r\n";
        close $out;
    }
} else {
    die "usage: mail_dkim.pl verify|sign ...\n";
}
