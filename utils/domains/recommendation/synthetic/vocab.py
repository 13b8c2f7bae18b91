"""Words of the RecoMart sample, all made up for it: the category tree with the nouns,
title modifiers and feature phrases of each leaf (so a product's title and description
carry its category), brands, title variants and shop sentences per top-level category,
and the first and last names of fake customers.

A leaf is written ``Leaf: nouns | title modifiers | features`` (comma-separated lists)
and parsed once into :data:`LEAVES`."""

from __future__ import annotations

from dataclasses import dataclass

_TREE = {
    "Home": {
        "Kitchen": """Cookware: Saucepan, Frying Pan, Stockpot, Wok | Stainless Steel, Cast Iron, Copper Core | induction base, non-stick coating, riveted handle, oven safe up to 220 degrees
            Cutlery: Chef Knife, Bread Knife, Steak Knife Set, Knife Block | Forged, Japanese Steel, Damascus | razor sharp edge, full tang blade, ergonomic grip, hand wash only
            Small Appliances: Kettle, Toaster, Blender, Coffee Grinder | Electric, Retro, Digital | fast boil, variable speed, auto shut-off, cord storage""",
        "Furniture": """Seating: Armchair, Dining Chair, Bar Stool, Bench | Velvet, Scandinavian, Upholstered | padded seat, solid beech frame, stackable design, footrest ring
            Tables: Coffee Table, Dining Table, Side Table, Writing Desk | Solid Oak, Walnut Veneer, Marble Top | scratch resistant top, extendable leaf, tapered legs, hidden drawer
            Storage Furniture: Bookcase, Shelf Unit, Sideboard, Wardrobe | White Lacquer, Industrial, Pine | adjustable shelves, soft close doors, wall anchoring kit, cable cut-outs""",
        "Decor": """Lighting: Floor Lamp, Pendant Light, Desk Lamp, LED Strip | Brass, Rattan, Minimalist | warm white glow, dimmable bulb, fabric shade, remote control
            Textiles: Throw Blanket, Cushion Cover, Area Rug, Curtain Pair | Chunky Knit, Linen, Jacquard | woven texture, machine washable, blackout lining, tassel trim""",
    },
    "Electronics": {
        "Audio": """Headphones: Wireless Headphones, Earbuds, Gaming Headset | Over-Ear, True Wireless, Studio | active noise cancelling, 30 hour battery, bluetooth pairing, memory foam cushions
            Speakers: Bluetooth Speaker, Soundbar, Bookshelf Speaker | Portable, Dolby, Smart | deep bass, stereo pairing, waterproof casing, voice assistant""",
        "Computers": """Laptops: Laptop, Ultrabook, Chromebook | 14 Inch, 16 Inch, Convertible | fast processor, full HD display, backlit keyboard, solid state drive
            Peripherals: Wireless Mouse, Mechanical Keyboard, Webcam, Monitor | Ergonomic, RGB, 4K | usb-c connection, high refresh rate, plug and play, adjustable stand
            Data Storage: External SSD, USB Stick, Hard Drive, Memory Card | 1TB, 256GB, Rugged | fast transfer speed, hardware encryption, compact design, backup software""",
        "Phones": """Smartphones: Smartphone, Phone | 5G, Dual SIM, Unlocked | OLED screen, triple camera, fast charging, all day battery
            Phone Accessories: Phone Case, Screen Protector, Wall Charger, Power Bank | Shockproof, Tempered Glass, 65W | raised bezel, wireless charging, usb-c cable, magnetic mount""",
    },
    "Fashion": {
        "Women": """Dresses: Summer Dress, Wrap Dress, Maxi Dress, Shirt Dress | Floral, Satin, Pleated | flowing silhouette, adjustable waist, lightweight viscose, midi length
            Handbags: Tote Bag, Crossbody Bag, Clutch, Shoulder Bag | Vegan Leather, Quilted, Woven | zip pocket, detachable strap, gold hardware, roomy interior""",
        "Men": """Shirts: Oxford Shirt, Linen Shirt, Polo Shirt, Flannel Shirt | Slim Fit, Regular Fit, Striped | button-down collar, breathable cotton, easy iron fabric, chest pocket
            Watches: Chronograph Watch, Dive Watch, Dress Watch | Automatic, Quartz, Titanium | sapphire crystal, stainless steel case, water resistant to 100m, leather strap""",
        "Footwear": """Sneakers: Sneakers, Trainers, Canvas Shoes | Low Top, Retro, Leather | cushioned insole, lace-up closure, breathable mesh, rubber outsole
            Boots: Chelsea Boots, Ankle Boots, Hiking Boots | Suede, Waterproof, Lined | grip sole, pull-on tab, padded collar, warm lining""",
    },
    "Sports": {
        "Running": """Running Shoes: Road Running Shoes, Trail Running Shoes, Racing Flats | Neutral, Stability, Carbon | responsive foam midsole, 8mm heel drop, reflective details, lugged outsole
            Running Apparel: Running Tights, Running Jacket, Running Vest, Running Socks | Thermal, Ultralight, Windproof | moisture wicking, reflective print, zipped key pocket, seamless knit""",
        "Cycling": """Bikes: Road Bike, Gravel Bike, City Bike, Mountain Bike | Aluminium, Carbon Frame, Electric | hydraulic disc brakes, 11 speed drivetrain, tubeless ready wheels, mudguard mounts
            Cycling Gear: Bike Helmet, Bike Light, Cycling Gloves, Bike Lock | Aero, Rechargeable, Heavy Duty | impact protection, 800 lumen beam, padded palms, hardened steel shackle""",
        "Fitness": """Weights: Dumbbell Set, Kettlebell, Weight Plate, Barbell | Adjustable, Rubber Coated, Olympic | knurled handle, hex shape, colour coded, home gym ready
            Yoga: Yoga Mat, Yoga Block, Resistance Band, Foam Roller | Eco, Extra Thick, Cork | non-slip surface, carry strap, joint support, deep tissue massage""",
    },
    "Beauty": {
        "Skincare": """Moisturisers: Day Cream, Night Cream, Moisturiser, Face Balm | Hydrating, Rich, Oil-Free | hyaluronic acid, SPF 30 protection, fragrance free, for dry skin
            Serums: Vitamin C Serum, Retinol Serum, Face Oil | Brightening, Anti-Ageing, Overnight | niacinamide complex, dropper bottle, evens skin tone, fine lines
            Cleansers: Foaming Cleanser, Micellar Water, Cleansing Balm | Gentle, Purifying, Soothing | removes makeup, pH balanced, for sensitive skin, aloe vera""",
        "Haircare": """Shampoo: Shampoo, Conditioner, Hair Mask | Sulfate-Free, Argan Oil, Volumising | for curly hair, repairing keratin, scalp care, silky shine
            Hair Styling: Hair Dryer, Hair Straightener, Curling Wand | Ionic, Ceramic, Salon | heat protection, fast drying, frizz control, cool shot button""",
        "Fragrance": """Perfume: Eau de Parfum, Eau de Toilette, Body Mist | Floral, Woody, Citrus | top notes of bergamot, vanilla base, long lasting scent, refillable bottle
            Home Fragrance: Scented Candle, Reed Diffuser, Room Spray | Soy Wax, Amber, Fresh Linen | 40 hour burn time, natural essential oils, cotton wick, glass jar""",
    },
    "Books": {
        "Fiction": """Crime: Crime Novel, Thriller, Detective Story | Gripping, Nordic Noir, Bestselling | police procedural, murder mystery, twist ending, dark secrets
            Fantasy: Fantasy Novel, Epic Saga, Dragon Tale | Epic, Enchanted, Award-Winning | magic system, perilous quest, hidden kingdom, trilogy opener
            Romance: Romance Novel, Love Story | Heartwarming, Feel-Good, Seaside | slow burn romance, second chance love, small town, summer wedding""",
        "Non-Fiction": """History: History Book, Biography, Atlas | Illustrated, Definitive, Pocket | ancient empires, world war memoirs, archival photographs, detailed maps
            Cookbooks: Cookbook, Baking Book | Vegetarian, Quick, Family | easy weeknight recipes, step by step photos, seasonal ingredients, sourdough bread
            Science: Popular Science Book, Astronomy Guide | Fascinating, Beginner's, Visual | black holes, the human brain, evolution explained, night sky charts""",
        "Children": """Picture Books: Picture Book, Bedtime Story, Board Book | Colourful, Rhyming, Lift-the-Flap | bright illustrations, read aloud, ages 3 to 6, gentle humour
            Young Adult: Young Adult Novel, Graphic Novel | Coming-of-Age, Adventure, Dystopian | school friendship, brave heroine, comic panels, first love""",
    },
    "Toys": {
        "Games": """Board Games: Board Game, Card Game, Strategy Game | Family, Cooperative, Party | 2 to 6 players, quick setup, game night fun, dice and tokens
            Puzzles: Jigsaw Puzzle, 3D Puzzle, Brain Teaser | 1000 Piece, Wooden, Panoramic | landscape picture, poster included, sturdy pieces, logic challenge""",
        "Construction": """Building Blocks: Building Block Set, Brick Set, Marble Run | Creative, Classic, Starter | compatible bricks, instruction booklet, storage tub, ages 6 plus
            Model Kits: Model Kit, Model Train, Model Aircraft | Scale, Vintage, Die-Cast | detailed parts, glue and paint set, display stand, 1:72 scale""",
        "Outdoor Play": """Ride-Ons: Kick Scooter, Balance Bike, Ride-On Car | Foldable, Light-Up, Junior | adjustable handlebar, light-up wheels, sturdy frame, safety brake
            Water Play: Paddling Pool, Water Blaster, Garden Sprinkler | Inflatable, Splash, Giant | quick inflate, summer fun, splash zone, repair patch included""",
    },
    "Garden": {
        "Garden Tools": """Hand Tools: Pruning Shears, Trowel, Garden Fork, Leaf Rake | Bypass, Carbon Steel, Ash Wood | rust resistant blade, ergonomic grip, hanging hole, lifetime guarantee
            Power Tools: Lawn Mower, Hedge Trimmer, Leaf Blower, Grass Strimmer | Cordless, 40V, Petrol | brushless motor, cutting width, low noise, mulching mode""",
        "Plants": """Seeds: Tomato Seeds, Herb Seeds, Flower Seeds, Wildflower Mix | Organic, Heirloom, Pollinator | high germination rate, easy to grow, sow in spring, bee friendly
            Pots: Plant Pot, Planter, Hanging Basket, Window Box | Terracotta, Glazed, Self-Watering | drainage hole, frost proof, water reservoir, saucer included""",
        "Outdoor Living": """Barbecues: Charcoal Barbecue, Gas Grill, Pizza Oven | Kettle, Three Burner, Portable | cast iron grate, lid thermometer, side shelves, pizza stone
            Garden Furniture: Garden Chair, Sun Lounger, Patio Set, Parasol | Rattan, Teak, Folding | weather resistant, UV protected fabric, cushions included, rust proof frame""",
    },
}

#: Per top-level category: brands, title variants, a category sentence, median price (EUR).
TOPS = {
    "Home": (("Casaline", "Nordhem", "Potterly", "Lumenwood"), ("20cm", "24cm", "Set of 2", "Large", "Small", "Grey"),
             "Made to make your home feel like home.", 45.0),
    "Electronics": (("Voltrix", "Sonaro", "Pixelcore", "Nexatech"), ("Gen 2", "Pro", "Mini", "Max", "2024 Edition", "Black"),
                    "Comes with a two year manufacturer warranty.", 140.0),
    "Fashion": (("Maison Verel", "Urbanthread", "Linnea", "Corvollo"), ("Navy", "Black", "Beige", "Olive", "Burgundy", "White"),
                "Free returns within 30 days.", 55.0),
    "Sports": (("Stridex", "Peakform", "Velocita", "Trailbound"), ("Size M", "Size L", "Blue", "Black", "Team Edition", "Lite"),
               "Built for training in every season.", 60.0),
    "Beauty": (("Belora", "Purelle", "Aquaveil", "Lunessa"), ("30ml", "50ml", "100ml", "200ml", "Travel Size", "Duo Pack"),
               "Dermatologically tested and cruelty free.", 24.0),
    "Books": (("Inkwell Press", "Harbour Books", "Paperlane", "Quillstone"), ("Paperback", "Hardcover", "Illustrated Edition",
              "Pocket Edition", "Box Set", "Large Print"), "A great read for long evenings.", 14.0),
    "Toys": (("Playwise", "Brickbury", "Tumbletop", "Kidora"), ("Ages 3+", "Ages 6+", "Ages 8+", "Family Edition",
             "Deluxe Edition", "Travel Edition"), "Safety tested to European toy standards.", 28.0),
    "Garden": (("Greenfold", "Terravita", "Sprigwell", "Yardcraft"), ("Large", "Medium", "40cm", "Set of 3", "XL", "Compact"),
               "Ready for the garden season.", 38.0),
}

#: Shop sentences any description may end with.
GENERIC_SENTENCES = (
    "Great value for everyday use.", "A favourite of the RecoMart team.", "Ships within 48 hours.",
    "Rated highly by our customers.", "Ideal as a gift.", "Quality you can rely on.",
    "Order today and enjoy it this week.", "Part of our best sellers range.",
)
DESCRIPTION_TEMPLATES = (
    "{Mod} {noun} with {f0} and {f1}.",
    "A {mod} {noun} featuring {f0}, {f1} and {f2}.",
    "This {noun} combines {f0} with {f1}.",
    "Our {mod} {noun}: {f0}, {f1}.",
)

FIRST_NAMES = (
    "Lea", "Hugo", "Jonas", "Marta", "Giulia", "Sem", "Emma", "Louis", "Lucia", "Matteo", "Noah", "Lina",
    "Pablo", "Sofia", "Finn", "Chloe", "Luca", "Anouk", "Elias", "Ines", "Milan", "Clara", "Daan", "Alba",
    "Nathan", "Greta", "Arthur", "Nora", "Tomas", "Julie", "Enzo", "Maja", "Victor", "Elena", "Lars", "Zoe",
    "Adrien", "Paula", "Ruben", "Camille",
)
LAST_NAMES = (
    "Martin", "Bernard", "Muller", "Schmidt", "Garcia", "Lopez", "Rossi", "Bianchi", "de Vries", "Jansen",
    "Peeters", "Dubois", "Moreau", "Weber", "Fischer", "Romero", "Navarro", "Conti", "Ricci", "Bakker",
    "Visser", "Maes", "Lambert", "Fontaine", "Becker", "Hoffmann", "Serrano", "Gallo", "Marino", "Smit",
    "Claes", "Lefevre", "Girard", "Wagner", "Ortega", "Greco", "Mulder", "Wouters", "Roux", "Keller",
)
EMAIL_DOMAINS = ("example.com", "example.org", "example.net")


@dataclass(frozen=True)
class Leaf:
    """A third-level category: its path, its nouns (product types), title modifiers and
    feature phrases."""

    path: tuple[str, str, str]
    nouns: tuple[str, ...]
    modifiers: tuple[str, ...]
    features: tuple[str, ...]


def _parse() -> tuple[Leaf, ...]:
    leaves = []
    for top, subs in _TREE.items():
        for sub, text in subs.items():
            for line in text.strip().splitlines():
                name, rest = line.strip().split(":", 1)
                nouns, modifiers, features = (tuple(w.strip() for w in part.split(",")) for part in rest.split("|"))
                leaves.append(Leaf((top, sub, name.strip()), nouns, modifiers, features))
    return tuple(leaves)


LEAVES = _parse()
TOP_NAMES = tuple(TOPS)
