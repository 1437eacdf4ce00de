"""A planted PII test set written for this project (not taken from any held-out set): the forms an
e-mail address, an IP address or a phone number takes in real text, each in a sentence of its own,
and near-misses that look like them and must be left alone. Used by tests/test_pii_forms.py and
bench/pii_forms.py.

Form: (name, text, secrets, kept): every secret must be gone from the text after the stage, and every
kept string still there (the URL around an address, the words around it). Phones are opt-in: their
forms are in PHONE_FORMS. Public addresses only: 93.184.216.34 (example.com), 2606:4700:4700::1111
(Cloudflare DNS) and the like; the documentation ranges are not global and are near-misses.
"""

from __future__ import annotations

FORMS = [
    # e-mails as written
    (
        "email plain",
        "Questions go to jane.roe@mail-example.net before Friday.",
        ["jane.roe@mail-example.net"],
        ["Questions go to ", " before Friday."],
    ),
    ("email plus tag", "Subscribe with anna+news@posteo.de to get it.", ["anna+news@posteo.de"], [" to get it."]),
    ("email uppercase", "Contact: SUPPORT@BIGCORP.COM", ["SUPPORT@BIGCORP.COM"], ["Contact: "]),
    (
        "email in angle brackets",
        "From: Tom Mueller <t.mueller@gmx.de>",
        ["t.mueller@gmx.de"],
        ["From: Tom Mueller <", ">"],
    ),
    (
        "email in mailto link",
        '<a href="mailto:info@claihr-example.ca">write</a>',
        ["info@claihr-example.ca"],
        ['<a href="mailto:', '">write</a>'],
    ),
    (
        "email subdomain co.uk",
        "Send CVs to hr.team@jobs.acme.co.uk.",
        ["hr.team@jobs.acme.co.uk"],
        ["Send CVs to ", "."],
    ),
    (
        "email in parentheses",
        "the author (k.tanaka@u-tokyo.ac.jp) replied",
        ["k.tanaka@u-tokyo.ac.jp"],
        ["the author (", ") replied"],
    ),
    (
        "email after colon no space",
        "E-Mail:redaktion@zeitung-example.de",
        ["redaktion@zeitung-example.de"],
        ["E-Mail:"],
    ),
    (
        "email with digits",
        "my old address was mikep614@yahoo.com, please update",
        ["mikep614@yahoo.com"],
        [", please update"],
    ),
    (
        "email long tld",
        "Reach the desk at desk@newsroom.photography today.",
        ["desk@newsroom.photography"],
        [" today."],
    ),
    # internationalised
    ("email idn german", "Kontakt: jürgen.müller@müller-bau.de", ["jürgen.müller@müller-bau.de"], ["Kontakt: "]),
    (
        "email idn accents",
        "Écrivez à françois.lefèvre@société-example.fr svp",
        ["françois.lefèvre@société-example.fr"],
        ["Écrivez à ", " svp"],
    ),
    ("email idn cyrillic", "Почта: иван@пример.рф для связи", ["иван@пример.рф"], ["Почта: ", " для связи"]),
    # inside URLs
    (
        "email in url query",
        "https://news.example.org/unsubscribe?email=t.mueller@gmx.de&list=7",
        ["t.mueller@gmx.de"],
        ["https://news.example.org/unsubscribe?email=", "&list=7"],
    ),
    (
        "email percent-encoded in url",
        "https://shop.example.com/reset?user=jane.doe%40gmail.com&token=abc",
        ["jane.doe%40gmail.com"],
        ["https://shop.example.com/reset?user=", "&token=abc"],
    ),
    (
        "email percent-encoded mailto",
        "mailto:hello%40startup-example.io?subject=Hi",
        ["hello%40startup-example.io"],
        ["mailto:", "?subject=Hi"],
    ),
    (
        "email url path segment",
        "https://lists.example.org/archive/ml@lists.debian.org/2019/msg01.html",
        ["ml@lists.debian.org"],
        ["https://lists.example.org/archive/", "/2019/msg01.html"],
    ),
    (
        "email url fragment param",
        "https://app.example.com/#/invite?to=sam.lee@outlook.com&role=admin",
        ["sam.lee@outlook.com"],
        ["https://app.example.com/#/invite?to=", "&role=admin"],
    ),
    # obfuscated to dodge scrapers
    ("obfuscated at dot words", "Mail me: jdoe at example dot com", ["jdoe at example dot com"], ["Mail me: "]),
    (
        "obfuscated bracket at dot",
        "peter.schmidt [at] uni-example [dot] de",
        ["peter.schmidt [at] uni-example [dot] de"],
        [],
    ),
    (
        "obfuscated bracket at only",
        "Write to maria[at]example.org for a copy.",
        ["maria[at]example.org"],
        ["Write to ", " for a copy."],
    ),
    ("obfuscated paren at", "office (at) kanzlei-example.de", ["office (at) kanzlei-example.de"], []),
    ("obfuscated paren at dot", "webmaster(at)verein-example(dot)de", ["webmaster(at)verein-example(dot)de"], []),
    (
        "obfuscated name.surname at",
        "Please write to name.surname at domain.com today.",
        ["name.surname at domain.com"],
        ["Please write to ", " today."],
    ),
    ("obfuscated upper AT DOT", "bob AT mailhost DOT net", ["bob AT mailhost DOT net"], []),
    ("obfuscated curly at", "press{at}agency-example.com", ["press{at}agency-example.com"], []),
    ("obfuscated angle at", "sales<at>vendor-example.com", ["sales<at>vendor-example.com"], []),
    ("obfuscated spaced @", "ping alice @ example.org if stuck", ["alice @ example.org"], ["ping ", " if stuck"]),
    ("obfuscated spaced @ dot", "reach jane @ example dot com for access", ["jane @"], ["reach ", " for access"]),
    (
        "obfuscated underscore local",
        "reports go to j_doe at reports-example.com",
        ["j_doe at reports-example.com"],
        ["reports go to "],
    ),
    ("obfuscated digits local", "jsmith77 at hotmail.com is me", ["jsmith77 at hotmail.com"], [" is me"]),
    (
        "obfuscated contact word",
        "For bookings, contact maria at hotel-example.es.",
        ["maria at hotel-example.es"],
        ["For bookings, contact ", "."],
    ),
    ("obfuscated bracket AT caps", "info [AT] firma-example [DOT] ch", ["info [AT] firma-example [DOT] ch"], []),
    # IPv4
    ("ipv4 plain", "Our server 93.184.216.34 answered.", ["93.184.216.34"], ["Our server ", " answered."]),
    (
        "ipv4 in url with port",
        "open http://203.0.114.7:8080/admin now",
        ["203.0.114.7"],
        ["http://", ":8080/admin now"],
    ),
    (
        "ipv4 log line",
        '81.169.145.94 - - [10/Oct/2019:13:55:36 +0200] "GET / HTTP/1.1"',
        ["81.169.145.94"],
        [" - - [10/Oct/2019"],
    ),
    ("ipv4 cidr", "block 185.220.101.4/32 at the firewall", ["185.220.101.4"], ["block ", "/32 at the firewall"]),
    ("ipv4 end of sentence", "The DNS resolver is 8.8.8.8.", ["8.8.8.8"], ["The DNS resolver is ", "."]),
    ("ipv4 after ip word", "IP: 151.101.1.69, port 443", ["151.101.1.69"], ["IP: ", ", port 443"]),
    # IPv6
    ("ipv6 compressed", "Ping 2606:4700:4700::1111 to test.", ["2606:4700:4700::1111"], ["Ping ", " to test."]),
    (
        "ipv6 full",
        "host 2a00:1450:4001:082a:0000:0000:0000:200e is up",
        ["2a00:1450:4001:082a:0000:0000:0000:200e"],
        ["host ", " is up"],
    ),
    (
        "ipv6 in url",
        "see http://[2001:4860:4860::8888]:8080/status for it",
        ["2001:4860:4860::8888"],
        ["http://[", "]:8080/status for it"],
    ),
    (
        "ipv6 url no port",
        "https://[2a03:2880:f003:c07:face:b00c::2]/index.html",
        ["2a03:2880:f003:c07:face:b00c::2"],
        ["https://[", "]/index.html"],
    ),
    (
        "ipv6 log line",
        "2620:0:862:ed1a::1 - - [01/Jan/2020] GET /",
        ["2620:0:862:ed1a::1"],
        [" - - [01/Jan/2020] GET /"],
    ),
    ("ipv6 uppercase", "Address: 2A01:4F8:C17:B8F::2", ["2A01:4F8:C17:B8F::2"], ["Address: "]),
    ("ipv6 with cidr", "route 2a01:4f8:c17:b8f::/64 here", ["2a01:4f8:c17:b8f::"], ["route ", "/64 here"]),
]

PHONE_FORMS = [
    ("phone international spaces", "Call +49 30 901820 for tickets.", ["+49 30 901820"], ["Call ", " for tickets."]),
    ("phone international trunk zero", "Tel: +44 (0)20 7946 0958", ["+44 (0)20 7946 0958"], ["Tel: "]),
    ("phone international dashes", "Our line: +1-202-555-0143.", ["+1-202-555-0143"], ["Our line: ", "."]),
    (
        "phone international single digit group",
        "Paris office +33 1 42 68 53 00 ouvert",
        ["+33 1 42 68 53 00"],
        [" ouvert"],
    ),
    ("phone international compact", "WhatsApp +4915112345678 any time", ["+4915112345678"], [" any time"]),
    ("phone 00 prefix", "Telefon 0049 30 901820 (Zentrale)", ["0049 30 901820"], [" (Zentrale)"]),
    ("phone us brackets", "Call (202) 555-0143 now", ["(202) 555-0143"], ["Call ", " now"]),
    ("phone national grouped with word", "Tel. 030 901820", ["030 901820"], ["Tel. "]),
    ("phone national bare with word", "Telefon: 0301234567", ["0301234567"], ["Telefon: "]),
    ("phone national slash with word", "Fax 089/1234567", ["089/1234567"], ["Fax "]),
    ("phone uk national with word", "phone 020 7393 1500 for details", ["020 7393 1500"], [" for details"]),
    ("phone mobile with word", "Mobile: 0171 2345678", ["0171 2345678"], ["Mobile: "]),
]

NEAR_MISSES = [
    ("version update to", "Please update to 4.19.2.1 before reporting bugs."),
    ("kernel version", "Tested on kernel 5.15.0.91 and later."),
    ("section number", "See section 3.2.1.4 for the exceptions."),
    ("paragraph sign", "gemäß § 3.2.1.4 der Satzung"),
    ("release word", "Release 10.1.2.3 fixes the crash."),
    ("version word", "version 2.0.0.1 is the last one"),
    ("v prefix", "download v2.0.0.1 from the mirror"),
    ("five part version", "build 1.2.3.4.5 is out"),
    ("oid", "OID 1.3.6.1.4.1.311 names Microsoft"),
    ("heading number", "3.2.1.4 Definitions of the terms used"),
    ("rc suffix", "upgrade from 4.19.2.1-rc1 when ready"),
    ("private ipv4", "the router is 192.168.0.1 and localhost 127.0.0.1"),
    ("documentation ipv6", "the docs use 2001:db8::1 as an example"),
    ("link-local ipv6", "interface fe80::1ff:fe23:4567:890a%eth0"),
    ("clock time", "The match starts at 20:15:30 sharp."),
    ("mac address", "MAC 00:1A:2B:3C:4D:5E on the card"),
    ("cpp scope", "use std::vector and boost::asio::ip here"),
    ("retina image", "icons logo@2x.png and hero@3x.webp"),
    ("localhost address", "log in as user@localhost first"),
    ("website after at", "You can find us at example.com."),
    ("website contact us", "Contact us at example.com for more."),
    ("arrived at", "The team arrived at St. Louis on Monday."),
    ("file at host", "see config.yaml at github.com for the setup"),
    ("price at", "Shares closed at 10.50 today."),
    ("date", "Published 12.10.2019 and revised 01.02.2019.1"),
    ("isbn", "ISBN 978-3-16-148410-0 in the catalogue"),
    ("twitter handle", "follow @jane_doe and @example.org"),
    ("order number", "Your order 2019123456789 has shipped."),
    ("year range", "between 1990 1991 1992 1993 and 1994"),
]
