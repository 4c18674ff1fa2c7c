"""Version strings parsed into Zeek software.log fields."""

from __future__ import annotations

import pytest

from wirekit.banners import find_product, parse_user_agent, parse_version
from wirekit.banners.mysql import parse_mysql_version
from wirekit.banners.ssh import parse_ssh_ident


def fields(sw):
    return (sw.name, sw.major, sw.minor, sw.minor2, sw.minor3, sw.addl, sw.version)


@pytest.mark.parametrize("text,expected", [
    ("OpenSSH_9.2p1 Debian-2+deb12u3", ("OpenSSH", 9, 2, None, None, "p1", "9.2")),
    ("nginx/1.22.1", ("nginx", 1, 22, 1, None, None, "1.22.1")),
    ("Apache/2.4.62 (Debian)", ("Apache", 2, 4, 62, None, None, "2.4.62")),
    ("Apache", ("Apache", None, None, None, None, None, "")),
    ("Microsoft-IIS/10.0", ("Microsoft-IIS", 10, 0, None, None, None, "10.0")),
    ("curl/7.88.1", ("curl", 7, 88, 1, None, None, "7.88.1")),
    ("Wget/1.14 (darwin12.2.0)", ("Wget", 1, 14, None, None, None, "1.14")),
    ("AdobeAIR-Flash/10,2,159,1", ("AdobeAIR-Flash", 10, 2, 159, 1, None, "10.2.159.1")),
    ("paramiko_1.15.2", ("paramiko", 1, 15, 2, None, None, "1.15.2")),
    ("OpenSSH_for_Windows_7.7", ("OpenSSH_for_Windows", 7, 7, None, None, None, "7.7")),
    ("dropbear_2022.83", ("dropbear", 2022, 83, None, None, None, "2022.83")),
    ("PHP/8.2.7", ("PHP", 8, 2, 7, None, None, "8.2.7")),
    ("lighttpd/1.4.69", ("lighttpd", 1, 4, 69, None, None, "1.4.69")),
])
def test_parse_version(text, expected):
    sw = parse_version(text)
    assert fields(sw) == expected
    assert sw.unparsed == text


def test_parse_version_empty():
    assert parse_version("   ") is None


@pytest.mark.parametrize("ua,expected", [
    ("Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0",
     ("Firefox", 128, 0, None, None, None, "128.0")),
    ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
     "Chrome/124.0.6367.91 Safari/537.36", ("Chrome", 124, 0, 6367, 91, None, "124.0.6367.91")),
    ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
     "Chrome/124.0.0.0 Safari/537.36 Edg/124.0.2478.67", ("Edge", 124, 0, 2478, 67, None, "124.0.2478.67")),
    ("Mozilla/5.0 (Macintosh; Intel Mac OS X 10_7_3) AppleWebKit/534.55.3 (KHTML, like Gecko) "
     "Version/5.1.3 Safari/534.53.10", ("Safari", 5, 1, 3, None, None, "5.1.3")),
    ("Mozilla/4.0 (compatible; MSIE 8.0; Windows NT 6.1)", ("MSIE", 8, 0, None, None, None, "8.0")),
    ("Mozilla/5.0 (Macintosh; U; Intel Mac OS X; en) AppleWebKit/531.9 (KHTML, like Gecko) AdobeAIR/2.6",
     ("AdobeAIR", 2, 6, None, None, None, "2.6")),
    ("curl/8.5.0", ("curl", 8, 5, 0, None, None, "8.5.0")),
])
def test_parse_user_agent(ua, expected):
    assert fields(parse_user_agent(ua)) == expected


@pytest.mark.parametrize("text,expected", [
    ("mail.example.org ESMTP Exim 4.96 Mon, 01 Jan 2026", ("Exim", 4, 96, None, None, None, "4.96")),
    ("mx.example.org ESMTP Postfix (Debian/GNU)", ("Postfix", None, None, None, None, None, "")),
    ("(vsFTPd 3.0.3)", ("vsFTPd", 3, 0, 3, None, None, "3.0.3")),
    ("ProFTPD 1.3.8 Server (Debian) [::ffff:10.0.0.1]", ("ProFTPD", 1, 3, 8, None, None, "1.3.8")),
    ("ftp.NetBSD.org FTP server (NetBSD-ftpd 20100320) ready.",
     ("NetBSD-ftpd", 20100320, None, None, None, None, "20100320")),
])
def test_find_product(text, expected):
    assert fields(find_product(text)) == expected


def test_find_product_unknown():
    assert find_product("Welcome to my server") is None


def test_ssh_ident_and_mysql():
    proto, sw = parse_ssh_ident(b"SSH-1.99-OpenSSH_3.4+p1+gssapi+OpenSSH_3.7.1buf_fix+2006100301")
    assert proto == b"1.99" and (sw.name, sw.version) == ("OpenSSH", "3.4")
    assert parse_ssh_ident(b"SSH-2.0") is None and parse_ssh_ident(b"HTTP/1.1 200") is None
    assert fields(parse_mysql_version("5.5.5-10.11.6-MariaDB-0+deb12u1"))[:3] == ("MariaDB", 10, 11)
