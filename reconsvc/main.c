/*
 * reconsvc: the recon daemon and the operator's subcommands.
 */
#include <stdio.h>
#include <string.h>

#include "check.h"
#include "dump.h"
#include "hash.h"
#include "import.h"
#include "pbuild.h"
#include "run.h"

static void
usage(FILE *f)
{
    fprintf(f,
        "usage: reconsvc <command> [options]\n"
        "\n"
        "commands:\n"
        "  import --db DIR [--batch N] [--mapsize-gib N] [FILE...]\n"
        "        load keys (binary or armored; \"-\" = stdin) into the\n"
        "        database, merging with stored keys; with no FILE, only\n"
        "        create the database\n"
        "  dump --db DIR [--keys-per-file N] OUTDIR\n"
        "        write every key to numbered keydump files with an md5sum\n"
        "        list, from one consistent snapshot\n"
        "  hash [--profile sks] FILE...\n"
        "        print each key's hash under a hash profile (or DROPPED\n"
        "        and why) with its primary fingerprint\n"
        "  pbuild --db DIR\n"
        "        rebuild the recon prefix tree from the stored keys\n"
        "  check --db DIR [--max-lines N] [--node BITS]\n"
        "        verify the prefix tree against the stored keys; non-zero\n"
        "        exit status on any difference (--node: show one node)\n"
        "  run --db DIR --listen ADDR:PORT --http-port N [--membership FILE]\n"
        "      [--gossip SECONDS] [--hostname IP] [--log FILE]\n"
        "        the recon daemon: gossip with SKS peers, fetch missing keys\n");
}

int
main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    if (strcmp(argv[1], "import") == 0)
        return reconsvc_import(argc - 1, argv + 1);
    if (strcmp(argv[1], "dump") == 0)
        return reconsvc_dump(argc - 1, argv + 1);
    if (strcmp(argv[1], "pbuild") == 0)
        return reconsvc_pbuild(argc - 1, argv + 1);
    if (strcmp(argv[1], "hash") == 0)
        return reconsvc_hash(argc - 1, argv + 1);
    if (strcmp(argv[1], "check") == 0)
        return reconsvc_check(argc - 1, argv + 1);
    if (strcmp(argv[1], "run") == 0)
        return reconsvc_run(argc - 1, argv + 1);
    if (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0
        || strcmp(argv[1], "help") == 0)
    {
        usage(stdout);
        return 0;
    }
    fprintf(stderr, "reconsvc: unknown command \"%s\"\n", argv[1]);
    usage(stderr);
    return 2;
}
