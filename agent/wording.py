"""The fixed words every reason is made of: the sentence plans and the verb phrase of each attribute. Pure data,
imported by the renderer (agent/sentences.py) and the text checks (agent/text_quality.py reads two of these words
run together, "it islisted as …", as a broken sentence)."""

PLANS_TWO = ("It {a} and {b}.", "This one {a}, and it {b}.", "A pick that {a} and {b}.",
             "Chosen because it {a} and {b}.", "Picked for you: it {a} and {b}.", "Worth a look: it {a} and {b}.")
# a one-fact plan opens as the two-fact plan of its place: the copy guard feeds a card its place's opening
# (agent/copy_guard.py plan_opening), and the one-fact targets of that place open with the same words
PLANS_ONE = ("It {a}.", "This one {a}.", "A pick that {a}.", "Chosen because it {a}.", "Picked for you: it {a}.",
             "Worth a look: it {a}.")
PLAN_OPENINGS = tuple(p.partition("{a}")[0].strip() for p in PLANS_TWO)  # "It", "This one", … by place

VERB_PHRASES = {
    "brand": "comes from {v}", "developer": "is made by {v}", "publisher": "is published by {v}",
    "price": "costs {v}", "delivery": "is delivered by {v}",
    "packaging": "comes in a {v}", "design": "features the {v} design", "genre": "sits in the {v} genre",
    "tag": "is tagged {v}", "spec": "offers {v}",
    "item_form": "comes in {v} form", "material": "is made of {v}", "diet_type": "is labelled {v}",
    "special_feature": "lists {v} as a feature", "gift_amount": "is offered in a ${v} amount",
    "category": "is listed under {v}", "release_year": "came out in {v}", "sentiment": "has {v} user reviews",
    "average_rating": "averages {v} stars from its reviewers", "age_range": "is meant for the {v} age range",
    "scent": "has a {v} scent", "primary_supplement_type": "is a {v} supplement", "material_feature": "is {v}",
    "skin_type": "suits {v} skin", "color": "comes in {v}",
}


# Every fixed wording: the plans, the verb phrases, and the request and past-item phrases of agent/sentences.py
PLAN_WORDING = (*PLANS_TWO, *PLANS_ONE, *VERB_PHRASES.values(), "is listed as {v}", "is unflavored", "is free",
                "has a {v} scent", "is {v}, as you asked", "is from {v}", "is not from {v}", "is like {v}",
                "is made for the occasion you named", "has the {v} you asked for",
                "shares its {v} with {v} (you rated it {v})", "you recommended it", "you mentioned it",
                "shares its {v} with your {v}", "has the same {v} as your {v}", "is chosen by {v} who had your {v}")
