"""Placeholder: the decode dispatch lands with the wire layer."""


def decode_packet(pkt):
    raise NotImplementedError("wirekit.wire.decode is being written")
