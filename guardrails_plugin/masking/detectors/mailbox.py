"""What an address's local part says: a team's mailbox, a message id, or (else) a person.

``customer-care@``, ``hr-onboarding@``, ``dmarc-reports@`` and ``noreply@`` belong to a role, not
a person; ``<CAH7x=Qm4…@mail.gmail.com>`` and ``<5b0d…-7a6b5e4d3c2f@cal.example.org>`` identify
a message or an event. Masking either costs the model context and protects no one. A local
part shaped like a person's (``anna.kowalska``, ``jkowalski84``) is never either, and neither is
one with a sub-address tag (``anna.kowalska+alerts``, ``anna.kowalska+0123456789abcdef``): most
providers deliver it to the person, and the tag is whatever the sender wrote.
"""

from __future__ import annotations

import re

from guardrails_plugin.masking.detectors.lexicon import first_names

__all__ = ["ROLE_WORDS", "has_machine_sign", "is_id_local", "is_role_mailbox", "mailbox"]

# The default vocabulary of role mailboxes: a local part made only of these words (``it.helpdesk``,
# ``customer-care``) is a team's. Pass your own to `IdentifierDetector(role_words=...)`; an empty
# set masks every mailbox.
ROLE_WORDS = frozenset(
    {
        # help and service
        "support", "help", "helpdesk", "desk", "service", "services", "care", "customer",
        "customers", "client", "clients", "info", "contact", "contacts", "hello", "enquiries",
        "inquiries", "feedback", "success", "servicedesk",
        # money and orders
        "sales", "billing", "accounts", "accounting", "invoices", "invoice", "finance",
        "payments", "payment", "payroll", "orders", "order", "shipping", "returns", "refunds",
        "procurement", "purchasing",
        # people and company
        "hr", "people", "talent", "recruiting", "recruitment", "careers", "jobs", "onboarding",
        "legal", "compliance", "privacy", "dpo", "gdpr", "press", "media", "marketing", "news",
        "newsletter", "partners", "office", "reception", "frontdesk", "admissions", "events",
        # operations and security
        "security", "abuse", "postmaster", "hostmaster", "webmaster", "admin", "admins",
        "administrator", "root", "it", "ops", "devops", "sre", "oncall", "noc", "soc", "infra",
        "platform", "engineering", "dev", "devs", "eng", "qa", "release", "releases", "build",
        "builds", "ci", "deploy", "monitoring", "alerts", "alert", "alarms", "status",
        "incidents", "incident", "reports", "report", "dmarc", "dkim", "bounce", "bounces",
        "mailer", "daemon", "notifications", "notification", "notify", "updates", "digest",
        "noreply", "no", "reply", "donotreply", "do", "not", "team", "teams", "all", "staff",
        "group", "list", "lists", "announce", "bot", "bots", "robot", "system", "automation",
        # the same roles in the languages of the cue lists (folded: 'atención' → 'atencion')
        "kundenservice", "kundendienst", "kundenbetreuung", "hilfe", "vertrieb", "verkauf",
        "buchhaltung", "rechnung", "rechnungen", "bestellung", "bestellungen", "zentrale",
        "empfang", "verwaltung", "datenschutz", "karriere", "presse", "kontakt",
        "serviceclient", "facturation", "factures", "commandes", "ventes",
        "comptabilite", "accueil", "assistance", "direction", "secretariat", "recrutement",
        "servicio", "servicios", "cliente", "clientes", "clienti", "atencion", "ayuda",
        "soporte", "ventas", "facturacion", "facturas", "pedidos", "contacto", "contabilidad",
        "recepcion", "administracion", "empleo", "atendimento", "suporte", "ajuda", "vendas",
        "faturamento", "financeiro", "comercial", "contato", "encomendas", "servizio",
        "servizi", "assistenza", "aiuto", "vendite", "fatturazione", "ordini", "contatti",
        "amministrazione", "klantenservice", "klantendienst", "klantcontact", "verkoop",
        "facturen", "boekhouding", "bestellingen", "administratie", "kundservice", "kundtjanst",
        "kundeservice", "kundesenter", "salg", "forsaljning", "ekonomi", "faktura", "fakturor",
        "asiakaspalvelu", "tuki", "myynti", "laskutus", "destek", "yardim", "iletisim",
        "musteri", "musterihizmetleri", "hizmetleri", "satis", "fatura", "muhasebe",
        "obsluga", "klient", "klienta", "pomoc", "sprzedaz", "faktury", "biuro", "zamowienia",
        "podpora", "zakaznik", "zakaznici", "obchod", "objednavky", "kancelar", "sac",
        "al", "ao", "au", "del", "des",  # 'servicio.al.cliente', 'service.des.ventes'
    }
)  # fmt: skip
# A team's list named for its topic: 'team-payments@', 'db-alerts@', 'finance-reports@'.
_GROUP_PREFIXES = frozenset({"team", "noreply", "ops", "all"})
_GROUP_SUFFIXES = frozenset(
    {"alerts", "alert", "reports", "report", "notifications", "notify", "team", "support",
     "noreply", "bot", "bots", "ops", "admins", "desk", "helpdesk", "list", "group", "all",
     "announce", "oncall", "devs", "eng", "status", "updates", "digest"}
)  # fmt: skip
_SPLIT = re.compile(r"[._+-]+")


def is_role_mailbox(local: str, words: frozenset[str] = ROLE_WORDS) -> bool:
    """``local`` (the part before ``@``) names a role: every word of it is a role word, or it
    is a team list named for its topic (``team-…``, ``…-alerts``)."""
    if not words:
        return False
    parts = [p.rstrip("0123456789") for p in _SPLIT.split(mailbox(local).lower()) if p]
    parts = [p for p in parts if p]
    if not parts:
        return False
    if all(p in words for p in parts):
        return True
    # A team list's topic is not a first name: 'henrietta-alerts@' is Henrietta's.
    names = first_names()
    return (
        len(parts) > 1
        and (parts[0] in _GROUP_PREFIXES or parts[-1] in _GROUP_SUFFIXES)
        and (parts[0] in words or parts[-1] in words)
        and not any(p in names for p in parts if p not in words)
    )


_UUID = re.compile(
    r"[0-9a-fA-F]{8}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{12}"
)
_HEX_RUN = re.compile(r"[0-9a-fA-F]{16}")
_DIGIT_RUN = re.compile(r"\d{8}")
_DIGITS = re.compile(r"\d+")
_PERSONAL = re.compile(r"[A-Za-z0-9._+-]+")


def mailbox(local: str) -> str:
    """The mailbox a sub-addressed local part delivers to: ``anna.k+alerts`` -> ``anna.k``.
    Only when the part before the first ``+`` reads as a mailbox someone was given (a letter
    first, a lower-case letter, mailbox characters only); in a message id such as
    ``CA+5Xk…`` or ``CAH7x=Qm4vB+0pLk…`` the ``+`` is part of the token."""
    base, plus, _ = local.partition("+")
    if plus and base[:1].isalpha() and any(c.islower() for c in base) and _PERSONAL.fullmatch(base):
        return base
    return local


def has_machine_sign(local: str) -> bool:
    """A UUID or a long hex run in the mailbox (not in a sub-address tag, which anyone writes)."""
    base = mailbox(local)
    return bool(_UUID.search(base) or _HEX_RUN.search(base))


def is_id_local(local: str) -> bool:
    """A machine-made local part: a UUID, a long hex or digit run, characters no mailbox
    provider gives people (``=``, ``$``, ``/``), or long with many digits and capitals
    (Exchange's ``PH0PR11MB4965C1D2…``) or with digits in three or more places. A person's
    mailbox with a tag is judged without the tag."""
    local = mailbox(local)
    if not _PERSONAL.fullmatch(local):
        return True
    if has_machine_sign(local) or _DIGIT_RUN.search(local):
        return True
    if len(local) < 16:
        return False
    # Random tokens scatter digits among letters: Exchange's capitals and digits, Google
    # Calendar's 'b5cch7kl8nc0azlflu10ltyajs'. People put a year or a number at one place.
    digits = sum(c.isdigit() for c in local)
    upper = sum(c.isupper() for c in local)
    return (digits >= 4 and upper >= 4) or len(_DIGITS.findall(local)) >= 3
