"""The vocabulary of generated contacts: topics, departments, helpdesk groups, survey items, names.

Kept apart from the generator so the config builder and the generator agree on every name.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Topic:
    key: str
    weight: float  # share of helpdesk contacts
    group: str  # helpdesk group the contact lands in
    tags: tuple[str, ...]  # tags besides the topic itself (never a high-risk term)
    high_risk: bool
    subjects: tuple[str, ...]  # English subjects
    subjects_es: tuple[str, ...] = ()


# Helpdesk group name -> department key; "Front Office" stays unmapped (department NULL).
GROUPS: dict[str, str | None] = {
    "Transportation": "transportation",
    "Registration & Enrollment": "enrollment",
    "Special Education": "special_education",
    "Student Services": "student_services",
    "Nutrition Services": "nutrition",
    "Technology Help": "technology",
    "Athletics & Activities": "athletics",
    "Human Resources": "human_resources",
    "Business Office": "business_office",
    "Teaching & Learning": "teaching_learning",
    "Superintendent's Office": "superintendent_office",
    "Front Office": None,
}
DEPARTMENTS = sorted({d for d in GROUPS.values() if d})

# Weights sum to 1; the high-risk topics (safety, bullying, threat, special education, legal)
# make up about 10 % of helpdesk contacts, as the brief's realistic share.
TOPICS: tuple[Topic, ...] = (
    Topic(
        "transportation",
        0.16,
        "Transportation",
        ("bus_route",),
        False,
        (
            "Bus was late this morning",
            "Bus stop change request",
            "Route question for my child",
            "No bus came today",
        ),
        ("El autobús llegó tarde", "Cambio de parada de autobús"),
    ),
    Topic(
        "enrollment",
        0.13,
        "Registration & Enrollment",
        ("registration",),
        False,
        (
            "New student registration",
            "Proof of residency question",
            "Transfer records request",
            "Kindergarten enrollment",
        ),
        ("Inscripción de estudiante nuevo", "Documentos de residencia"),
    ),
    Topic(
        "attendance",
        0.10,
        "Student Services",
        ("absence",),
        False,
        ("Reporting an absence", "Attendance letter question", "Early dismissal today"),
        ("Reportar una ausencia",),
    ),
    Topic(
        "food_services",
        0.07,
        "Nutrition Services",
        ("meals",),
        False,
        ("Lunch account balance", "Free and reduced meal application", "Allergy menu question"),
        ("Solicitud de comidas gratuitas",),
    ),
    Topic(
        "technology",
        0.09,
        "Technology Help",
        ("chromebook",),
        False,
        ("Chromebook is broken", "Cannot log in to the portal", "Password reset for student"),
        ("No puedo entrar al portal",),
    ),
    Topic(
        "athletics",
        0.05,
        "Athletics & Activities",
        ("sports",),
        False,
        ("Physical form for volleyball", "Game schedule question", "Activity fee question"),
    ),
    Topic(
        "human_resources",
        0.04,
        "Human Resources",
        ("employment",),
        False,
        ("Substitute teacher application", "Employment verification", "Job posting question"),
    ),
    Topic(
        "fees",
        0.06,
        "Business Office",
        ("billing",),
        False,
        ("Question about school fees", "Refund for field trip", "Payment receipt needed"),
        ("Pregunta sobre cuotas escolares",),
    ),
    Topic(
        "curriculum",
        0.09,
        "Teaching & Learning",
        ("grades",),
        False,
        ("Question about my child's grades", "Report card question", "Homework help request"),
        ("Pregunta sobre calificaciones",),
    ),
    Topic(
        "general",
        0.11,
        "Front Office",
        ("info",),
        False,
        ("General question", "Calendar question", "Who do I contact about this?"),
        ("Pregunta general",),
    ),
    Topic(
        "safety",
        0.025,
        "Student Services",
        ("incident",),
        True,
        ("Safety concern at pickup", "Unsafe driving near the school", "Concern about a visitor"),
    ),
    Topic(
        "bullying",
        0.035,
        "Student Services",
        ("peer_conflict",),
        True,
        ("My child is being bullied", "Bullying on the bus", "Report of harassment"),
        ("Mi hijo sufre acoso escolar",),
    ),
    Topic(
        "threat",
        0.005,
        "Student Services",
        ("online",),
        True,
        ("Threatening message seen online", "Threat report"),
    ),
    Topic(
        "special_education",
        0.03,
        "Special Education",
        ("iep",),
        True,
        (
            "IEP meeting request",
            "504 plan question",
            "Evaluation request for my child",
            "Special education services",
        ),
        ("Solicitud de reunión IEP",),
    ),
    Topic(
        "legal",
        0.005,
        "Superintendent's Office",
        ("records_request",),
        True,
        ("Public records request", "Letter from our attorney", "Legal question about custody"),
    ),
)
TOPIC_BY_KEY = {t.key: t for t in TOPICS}
# Email carries no tags or categories: the warehouse sees a mailbox's contact as high-risk only
# when the thread's first subject names a high-risk term (docs/metrics.md), as some of these
# topics' subjects do ("Bullying on the bus") and others do not ("Report of harassment").
EMAIL_TOPICS = tuple(t for t in TOPICS if t.key != "human_resources")

CLIMATE_ITEMS = (
    "safe_at_school",
    "treated_with_respect",
    "staff_responsive",
    "communication_clear",
    "know_who_to_contact",
    "concerns_taken_seriously",
)

LOCALES = (("en", 0.78), ("es", 0.16), ("vi", 0.025), ("zh", 0.02), ("ar", 0.015))

FIRST_NAMES = {
    "en": (
        "Emily",
        "Jacob",
        "Madison",
        "Tyler",
        "Hannah",
        "Ethan",
        "Olivia",
        "Mason",
        "Ava",
        "Logan",
        "Chloe",
        "Ryan",
        "Grace",
        "Caleb",
        "Lauren",
        "Dylan",
        "Megan",
        "Austin",
    ),
    "es": (
        "María",
        "José",
        "Guadalupe",
        "Juan",
        "Rosa",
        "Luis",
        "Ana",
        "Carlos",
        "Sofía",
        "Miguel",
        "Lucía",
        "Jorge",
    ),
    "vi": ("Linh", "Minh", "Thu", "Huy", "Lan", "Tuan"),
    "zh": ("Wei", "Mei", "Jun", "Xiu", "Hao", "Lin"),
    "ar": ("Omar", "Layla", "Yusuf", "Mariam", "Karim", "Noor"),
}
LAST_NAMES = {
    "en": (
        "Miller",
        "Johnson",
        "Anderson",
        "Schmidt",
        "Wilson",
        "Thompson",
        "Baker",
        "Meyer",
        "Nelson",
        "Carlson",
        "Peterson",
        "Hughes",
        "Foster",
        "Keller",
        "Brooks",
        "Dunn",
    ),
    "es": ("García", "Hernández", "López", "Martínez", "González", "Ramírez", "Torres", "Flores"),
    "vi": ("Nguyen", "Tran", "Le", "Pham"),
    "zh": ("Wang", "Li", "Zhang", "Chen"),
    "ar": ("Haddad", "Khalil", "Nasser", "Saleh"),
}
# Personal mail of parents and community members: reserved example domains, never real people.
PERSONAL_DOMAINS = ("example.com", "example.net", "example.org", "mail.example")
