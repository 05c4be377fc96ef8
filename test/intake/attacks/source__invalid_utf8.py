# attack: source/invalid_utf8
# expect: source-encoding
x = "ÿþ"
