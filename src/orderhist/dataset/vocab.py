"""The synthetic shop's own words: product names, adjustment notes, countries and their weights.

Nothing here comes from the real file's text; only the shape does (uppercase names, a trailing
space on about a fifth of the lines, the odd comma, quote, apostrophe and pound sign).
"""
from __future__ import annotations

THEMES = (
    "VINTAGE", "RETRO", "SCANDI", "WOODLAND", "SEASIDE", "MEADOW", "POLKA DOT", "STRIPED",
    "FLORAL", "TARTAN", "STARRY NIGHT", "ORCHARD", "BIRDSONG", "PAISLEY", "HONEYBEE", "FOREST",
    "NAUTICAL", "FOLK ART", "ART DECO", "BOTANICAL", "COTTAGE", "HARVEST", "LIGHTHOUSE",
    "WILDFLOWER", "HEDGEHOG", "FOX CUB", "OWLET", "ROBIN", "SNOWFLAKE", "REINDEER", "MOONLIT",
    "SUNFLOWER", "LEMON GROVE", "PINE CONE", "HOT AIR BALLOON", "TEAPOT PARADE", "PICNIC",
    "ROCKET", "MERMAID", "UNICORN", "DINOSAUR", "ROBOT", "BICYCLE", "CAMPERVAN", "TULIP",
)

COLOURS = (
    "RED", "BLUE", "PINK", "IVORY", "SAGE", "TEAL", "MUSTARD", "LILAC", "CHARCOAL", "CORAL",
    "PEACH", "MINT", "SLATE", "NAVY", "DUCK EGG", "CREAM", "COPPER", "SILVER", "GOLD", "WHITE",
    "BLACK", "GREEN", "ORANGE", "PLUM", "ROSE", "SKY BLUE", "OLIVE", "RUST",
)

NOUNS = (
    "TEA LIGHT HOLDER", "STORAGE TIN", "JAM JAR", "NOTEBOOK", "GIFT BAG", "DOORSTOP",
    "CUSHION COVER", "LUNCH BOX", "MUG", "BUNTING", "WALL CLOCK", "PHOTO FRAME", "TRINKET BOX",
    "KEY RING", "COASTER SET", "PLANT POT", "SHOPPING BAG", "WASH BAG", "APRON", "OVEN GLOVE",
    "TEA TOWEL", "PEG BAG", "HOT WATER BOTTLE", "GARLAND", "LANTERN", "PARTY CUPS",
    "PAPER NAPKINS", "CAKE STAND", "SNOW GLOBE", "BIRTHDAY CARD", "WRAPPING PAPER", "PENCIL CASE",
    "HAIR CLIPS", "MEMO BOARD", "MIRROR", "CANDLE", "DRAWER KNOB", "COAT HOOK", "SIGN",
    "BAKING CASES", "CHOPPING BOARD", "WATERING CAN", "BIRD FEEDER", "STICKER SHEET",
    "JIGSAW", "SKIPPING ROPE", "MONEY BOX", "NIGHT LIGHT", "FAIRY LIGHTS", "SOAP DISH",
    "TOOTHBRUSH CUP", "BREAD BIN", "TRAY", "VASE", "PURSE", "UMBRELLA", "HANDBAG", "BOOKMARK",
    "STATIONERY SET", "RECIPE BOX", "CHALK BOARD", "DOOR MAT", "PLACEMATS", "EGG CUP",
    "MILK JUG", "TEA CUP AND SAUCER", "BOWL", "PLATE", "BEAKER", "STRAWS", "BALLOONS",
    "PARTY BAG", "HANGING DECORATION", "BAUBLE", "STOCKING", "ADVENT CALENDAR", "CRACKERS",
)

MATERIALS = (
    "ENAMEL", "GLASS", "CERAMIC", "WOODEN", "TIN", "ZINC", "FELT", "COTTON", "PAPER", "WICKER",
    "BAMBOO", "CANVAS", "LEATHER", "WIRE", "PORCELAIN", "CHROME",
)

SIZES = ("SMALL", "LARGE", "MINI", "JUMBO", "SET OF 3", "SET OF 6", "PACK OF 12", "SET OF 4")

# Apostrophes come from possessive makers; double quotes from slogans printed on the goods.
MAKERS = ("GRANNY'S", "BAKER'S", "CHILDREN'S", "GARDENER'S", "SAILOR'S", "POSTMAN'S", "COOK'S")
SLOGANS = (
    "BACK IN 5", "KEEP SMILING", "HOME IS WHERE THE TEA IS", "OPEN", "GONE WALKIES",
    "BE KIND", "SHHH", "HELLO SUNSHINE", "NO PLACE LIKE IT",
)

# Notes a stock clerk types on a zero-price, no-customer stock adjustment.
ADJUSTMENT_NOTES = (
    "broken in store", "water damage", "stock check", "lost in warehouse", "mislabelled",
    "sold as set", "returned faulty", "crushed", "?", "wet boxes", "counted twice", "missing",
    "recount", "adjusted", "see note", "wrong code", "faded",
)
FOUND_NOTES = ("found", "found in store", "recount", "returned", "extra in box", "amended")

# Countries and how many of the real file's 541,909 rows each holds (rounded here); the UK is
# the rest. Customers per country follow the same order of magnitude.
COUNTRY_WEIGHTS = (
    ("Germany", 9500), ("France", 8550), ("EIRE", 8200), ("Spain", 2530),
    ("Netherlands", 2370), ("Belgium", 2070), ("Switzerland", 2000), ("Portugal", 1520),
    ("Australia", 1260), ("Norway", 1090), ("Italy", 800), ("Channel Islands", 760),
    ("Finland", 700), ("Cyprus", 620), ("Sweden", 460), ("Unspecified", 446), ("Austria", 400),
    ("Denmark", 390), ("Japan", 360), ("Poland", 340), ("Israel", 300), ("USA", 290),
    ("Hong Kong", 290), ("Singapore", 230), ("Iceland", 180), ("Canada", 150), ("Greece", 150),
    ("Malta", 130), ("United Arab Emirates", 70), ("European Community", 61), ("RSA", 60),
    ("Lebanon", 45), ("Lithuania", 35), ("Brazil", 32), ("Czech Republic", 30), ("Bahrain", 20),
    ("Saudi Arabia", 10),
)
HOME_COUNTRY = "United Kingdom"

# Rows a class has in 541,909 real rows, and the least the synthetic file always carries so a
# small file still shows every class.
SPECIAL_CODES = {
    # code: (real rows, minimum, description, price range)
    "POST": (1256, 4, "POSTAGE", (15.0, 40.0)),
    "DOT": (710, 2, "WEBSITE POSTAGE", (50.0, 900.0)),
    "M": (571, 2, "Manual", (0.5, 300.0)),
    "C2": (144, 1, "CARRIAGE", (50.0, 50.0)),
    "BANK CHARGES": (37, 1, "Bank Charges", (15.0, 15.0)),
    "PADS": (4, 1, "PADS TO MATCH ALL CUSHIONS", (0.001, 0.001)),
}
# Codes that only turn up on cancellation invoices (credits and fees taken back).
CANCEL_CODES = {
    "D": (77, 1, "Discount", (5.0, 200.0)),
    "S": (63, 1, "SAMPLES", (1.0, 100.0)),
    "AMAZONFEE": (34, 1, "AMAZON FEE", (1000.0, 15000.0)),
    "CRUK": (16, 1, "CRUK Commission", (1.0, 30.0)),
}
GIFT_VALUES = (10, 20, 30, 40, 50)
