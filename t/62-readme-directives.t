#!/usr/bin/perl
# README.md's directives table names every directive of the module (the
# ngx_string("...") names of ngx_hkp_module.c's command table and of the
# files that declare their own), and nothing that is not one; each row
# says where it goes (h/s/l) and its default.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use HkpTest qw(root slurp);

my $ROOT = root();
my %module;
for my $f (glob("$ROOT/ngx_hkp_module/*.c")) {
    my $src = slurp($f) // '';
    # command tables: { ngx_string("name"), NGX_HTTP_..._CONF ...
    $module{$1} = $f while $src =~ /\{\s*ngx_string\("(hkp[a-z0-9_]*)"\),\s*NGX_HTTP_/g;
}
ok(keys %module >= 20, 'the module declares its directives') or diag join ' ', sort keys %module;

my $readme = slurp("$ROOT/README.md") // '';
my ($table) = $readme =~ /^### Directives\n(.*?)(?=^#)/ms;
ok(defined $table, 'README has a Directives section');
my %readme;
for my $row (grep { /^\| `hkp/ } split /\n/, $table // '') {
    my @cell = split /\s*(?<!\\)\|\s*/, $row;   # "", directive, where, default, meaning ("\|" inside a cell)
    my ($name) = $cell[1] =~ /^`(hkp[a-z0-9_]*)/;
    $readme{$name} = 1;
    like($cell[2] // '', qr/^(?:h|s|l)(?: (?:h|s|l))*$/, "README: $name says where it goes");
    ok(defined $cell[3] && length $cell[3], "README: $name has a default column");
}
for my $d (sort keys %module) {
    ok($readme{$d}, "README's directives table names $d");
}
for my $d (sort keys %readme) {
    ok($module{$d}, "README's $d is a directive of the module");
}

done_testing();
