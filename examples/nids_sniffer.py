#!/usr/bin/env python3
"""pynids' classic example (an HTTP stream sniffer), ported to wirekit.reasm.nids.

The original (pynids README / Example) differs only in: `import nids` ->
`from wirekit.reasm import nids`, Python 3 print(), bytes decoded for display, and
`nids.error` caught the same way. Run:

    python examples/nids_sniffer.py capture.pcap        # read a file
    sudo python examples/nids_sniffer.py                # live, on the default device (eth0)
"""

import sys

from wirekit.reasm import nids

end_states = (nids.NIDS_CLOSE, nids.NIDS_TIMEOUT, nids.NIDS_RESET, nids.NIDS_EXITING)


def handleTcpStream(tcp):
    print("tcps -", str(tcp.addr), " state:", tcp.nids_state)
    if tcp.nids_state == nids.NIDS_JUST_EST:
        # new to us, but do we care?
        ((src, sport), (dst, dport)) = tcp.addr
        print(tcp.addr)
        if dport in (80, 8000, 8080):
            print("collecting...")
            tcp.client.collect = 1
            tcp.server.collect = 1
    elif tcp.nids_state == nids.NIDS_DATA:
        # keep all of the stream's new data
        tcp.discard(0)
    elif tcp.nids_state in end_states:
        print("addr:", tcp.addr)
        print("To server:")
        print(tcp.server.data[:tcp.server.count].decode("latin-1"))  # WARNING - may be binary
        print("To client:")
        print(tcp.client.data[:tcp.client.count].decode("latin-1"))  # WARNING - as above


def main():
    nids.param("pcap_filter", "tcp")  # bpf restrict to TCP only, note
    nids.param("scan_num_hosts", 0)  # disable portscan detection
    nids.chksum_ctl([("0.0.0.0/0", False)])  # disable checksumming
    if len(sys.argv) == 2:  # read a pcap file?
        nids.param("filename", sys.argv[1])
    else:
        nids.param("device", "eth0")
    nids.init()
    nids.register_tcp(handleTcpStream)
    print("pid", __import__("os").getpid())
    # Loop forever (network device), or until EOF (pcap file)
    # Note that an exception in the callback will break the loop!  (not here: it is reported
    # and the loop goes on)
    try:
        nids.run()
    except nids.error as e:
        print("nids/pcap error:", e)
    except Exception as e:
        print("misc. exception (runtime error in user callback?):", e)


if __name__ == "__main__":
    main()
