/* libnids peer for bench/reasm_engine.py: reassemble every TCP stream of a pcap, collecting
 * both directions, counting bytes (the same work as wirekit's engine in count mode).
 * Built at bench time against Debian's libnids-dev: cc -O2 reasm_libnids.c -lnids -lpcap
 */
#include <nids.h>
#include <stdio.h>
#include <stdlib.h>

static unsigned long long bytes_total, opened, ended;

static void tcp_callback(struct tcp_stream *s, void **unused)
{
    (void)unused;
    switch (s->nids_state) {
    case NIDS_JUST_EST:
        s->client.collect++;
        s->server.collect++;
        opened++;
        break;
    case NIDS_DATA:
        bytes_total += s->client.count_new + s->server.count_new;
        break;
    default:
        ended++;
    }
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: %s FILE.pcap\n", argv[0]);
        return 2;
    }
    nids_params.filename = argv[1];
    nids_params.device = NULL;
    nids_params.scan_num_hosts = 0;      /* no port-scan detection */
    nids_params.n_tcp_streams = 1 << 16; /* enough for the capture's concurrent flows */
    nids_params.n_hosts = 1 << 12;
    if (!nids_init()) {
        fprintf(stderr, "nids_init: %s\n", nids_errbuf);
        return 1;
    }
    nids_register_tcp(tcp_callback);
    nids_run();
    printf("{\"opened\": %llu, \"ended\": %llu, \"bytes\": %llu}\n", opened, ended, bytes_total);
    return 0;
}
