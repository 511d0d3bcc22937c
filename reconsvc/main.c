/*
 * reconsvc: the recon daemon and the operator's subcommands.
 *
 * `reconsvc --version` (or `reconsvc CMD --version`) prints the version;
 * `reconsvc CMD --help` (or -h) prints that command's usage, exit 0.
 */
#include <stdio.h>
#include <string.h>

#include "hkp_version.h"
#include "block.h"
#include "check.h"
#include "compact.h"
#include "dump.h"
#include "hash.h"
#include "import.h"
#include "migrate.h"
#include "pbuild.h"
#include "redact.h"
#include "run.h"

typedef struct {
    const char  *name;
    int        (*fn)(int argc, char **argv);
    const char  *usage;     /* options, then what it does */
} command_t;

static const command_t commands[] = {
    { "import", reconsvc_import,
      "--db DIR [--batch N] [--mapsize-gib N] [FILE...]\n"
      "        load keys (binary or armored; \"-\" = stdin) into the\n"
      "        database, merging with stored keys; with no FILE, only\n"
      "        create the database\n" },
    { "dump", reconsvc_dump,
      "--db DIR [--keys-per-file N] OUTDIR\n"
      "        write every key to numbered keydump files with an md5sum\n"
      "        list, from one consistent snapshot\n" },
    { "hash", reconsvc_hash,
      "[--profile NAME] [--stored] FILE...\n"
      "        print each key's hash under a hash profile (or DROPPED\n"
      "        and why) with its primary fingerprint\n" },
    { "pbuild", reconsvc_pbuild,
      "--db DIR\n"
      "        rebuild the recon prefix tree from the stored keys\n" },
    { "check", reconsvc_check,
      "--db DIR [--max-lines N] [--node BITS]\n"
      "        verify the prefix tree against the stored keys; non-zero\n"
      "        exit status on any difference (--node: show one node)\n" },
    { "compact", reconsvc_compact,
      "--db DIR\n"
      "        rewrite the database with every page full and no free\n"
      "        pages (only while no other process has it open)\n" },
    { "redact", reconsvc_redact,
      "--db DIR [--audit FILE] FPR UIDTEXT\n"
      "        hide the user ID UIDTEXT (exact text) of the key FPR from\n"
      "        every answer; the stored key is unchanged (audit line to\n"
      "        FILE, default DIR/audit.log)\n" },
    { "unredact", reconsvc_redact,
      "--db DIR [--audit FILE] FPR UIDTEXT\n"
      "        serve that user ID again (audit line as for redact)\n" },
    { "redacted", reconsvc_redacted,
      "--db DIR\n"
      "        list the redacted user IDs\n" },
    { "block", reconsvc_block,
      "--db DIR [--reason TEXT] [--update-reason] [--audit FILE] FPR\n"
      "       block --db DIR --file FILE [--update-reason] [--audit FILE]\n"
      "        takedown: delete the key with this primary or subkey\n"
      "        fingerprint and refuse it from then on (TEXT: \"public\n"
      "        reason | private note\"; FILE: one \"FPR [TEXT]\" a line);\n"
      "        a block that exists is kept unless --update-reason (audit\n"
      "        line to FILE, default DIR/audit.log)\n" },
    { "unblock", reconsvc_unblock,
      "--db DIR [--audit FILE] FPR\n"
      "        end a takedown: the key is accepted (and fetched) again\n" },
    { "blocked", reconsvc_blocked,
      "--db DIR\n"
      "        list the takedowns, in the format block --file reads\n" },
    { "migrate", reconsvc_migrate,
      "--sksconf FILE [--membership FILE] --out DIR\n"
      "        write this keyserver's nginx and reconsvc settings from an\n"
      "        SKS node's sksconf (and membership) into DIR\n" },
    { "run", reconsvc_run,
      "--db DIR --listen ADDR:PORT --http-port N [--create]\n"
      "      [--membership FILE] [--gossip SECONDS] [--hostname IP] [--log FILE]\n"
      "      [--config-timeout S] [--session-timeout S] [--idle-timeout S]\n"
      "      [--fetch-timeout S] [--max-elements N]\n"
      "        the recon daemon: gossip with SKS peers, fetch missing keys\n" },
};

#define NCOMMANDS  (sizeof(commands) / sizeof(commands[0]))

static void
usage(FILE *f)
{
    fprintf(f, "usage: reconsvc <command> [options]\n"
        "       reconsvc --version\n"
        "       reconsvc <command> --help\n\ncommands:\n");
    for (size_t i = 0; i < NCOMMANDS; i++)
        fprintf(f, "  %s %s", commands[i].name, commands[i].usage);
}

static int
is_opt(const char *a, const char *l, const char *s)
{
    return strcmp(a, l) == 0 || (s != NULL && strcmp(a, s) == 0);
}

static int
version(void)
{
    printf("reconsvc %s\n", HKP_VERSION);
    return 0;
}

int
main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    if (is_opt(argv[1], "--version", "-V") || strcmp(argv[1], "version") == 0)
        return version();
    if (is_opt(argv[1], "--help", "-h") || strcmp(argv[1], "help") == 0) {
        usage(stdout);
        return 0;
    }
    for (size_t i = 0; i < NCOMMANDS; i++) {
        const command_t *c = &commands[i];
        if (strcmp(argv[1], c->name) != 0)
            continue;
        if (argc >= 3 && is_opt(argv[2], "--version", "-V"))
            return version();
        if (argc >= 3 && is_opt(argv[2], "--help", "-h")) {
            printf("usage: reconsvc %s %s", c->name, c->usage);
            return 0;
        }
        return c->fn(argc - 1, argv + 1);
    }
    fprintf(stderr, "reconsvc: unknown command \"%s\"\n", argv[1]);
    usage(stderr);
    return 2;
}
