"""Convert the HetRec 2011 Last.fm data (hetrec2011-lastfm-2k) into a dataset folder (docs/lastfm.md).

Last.fm's data has artists, not songs, so each artist is one catalogue item and its own artist. It has
listening totals without times, so the interactions carry `plays` only and training uses the random split.
Genres come from users' free-text tags through a rule a reader can check line by line: normalise the text,
drop tags that are not genre names (a denylist), keep the TOP_GENRES most used of the rest, and keep an
(artist, genre) pair only where MIN_SUPPORT tag assignments back it. A kept genre gets a parent (`genres.parent`)
where a well-known sub-genre -> genre relation exists (PARENT_GENRES) and the parent is kept too.
"""

from __future__ import annotations

import csv
import re
from pathlib import Path

import pandas as pd

from recsys.data.write import staged_folder, write_table
from recsys.errors import ConfigError, DataValidationError, Problem

TOP_GENRES = 100  # genre vocabulary size: the 100 most used genre tags each have 160+ uses; rarer ones get noisy
MIN_SUPPORT = 2  # assignments needed to link an artist to a genre; one user's tag alone is too noisy

# name -> (encoding, columns the importer needs). tags.dat is ISO-8859-1 with CRLF line ends (readme.txt).
RAW_FILES: dict[str, tuple[str, tuple[str, ...]]] = {
    "artists.dat": ("utf-8", ("id", "name")),
    "tags.dat": ("latin-1", ("tagID", "tagValue")),
    "user_artists.dat": ("utf-8", ("userID", "artistID", "weight")),
    "user_taggedartists.dat": ("utf-8", ("userID", "artistID", "tagID")),
}

# Tags that name something other than a genre, compared after normalisation.
NON_GENRE_TAGS = frozenset({
    # opinions and moods
    "amazing", "awesome", "beautiful", "brilliant", "catchy", "chill", "cool", "cute", "dark", "dreamy", "epic",
    "ethereal", "fun", "genius", "happy", "hot", "legend", "lovely", "melancholic", "melancholy", "mellow",
    "perfect", "relax", "relaxing", "romantic", "sad", "sexy", "sweet", "atmospheric", "addictive", "party",
    "summer", "christmas", "halloween", "memories", "guilty pleasure", "guilty pleasures", "<3",
    # form, instrumentation and release, not style
    "acoustic", "ballad", "cover", "covers", "guitar", "guitar virtuoso", "instrumental", "live", "piano",
    "remix", "vocal", "diva", "classic", "oldies", "top 40",
    # people, shows and places
    "american", "american idol", "australian", "brasil", "brazil", "brazilian", "british", "canadian", "disney",
    "english", "finnish", "french", "german", "gossip girl", "icelandic", "irish", "italian", "japanese",
    "korean", "norwegian", "polish", "russian", "scottish", "spanish", "swedish", "turkish", "uk", "usa", "gay",
})
# Whole classes of non-genre tags: decades and years, vocalist descriptions, personal lists and ratings.
NON_GENRE_PATTERNS = re.compile(
    r"""^(\d0s | \d{4}s? | [12]\d{3}\s*-\s*[12]\d{3})$   # 80s, 1990s, 2008, 1990-1999
      | \b(fe)?male\b | \bvocalists?\b                 # female vocalists, male
      | \bfavou?rites?\b | \blove\b | \bbest\b | \bawesome\b | \bseen\ live\b
      | ^my\s | \bi\ own\b | \bcheck\ out\b | \blisteners\b""",
    re.VERBOSE,
)
# Different words for one genre, after the spelling key has merged "hip hop", "hip-hop" and "hiphop".
ALIASES = {"rnb": "r&b", "rhythm and blues": "r&b"}
# Display names that plain title case gets wrong, by spelling key.
DISPLAY = {"idm": "IDM", "ebm": "EBM", "mpb": "MPB", "edm": "EDM", "randb": "R&B", "rockandroll": "Rock 'n' Roll",
           "powerpop": "Power Pop", "drumandbass": "Drum and Bass"}

# Well-known sub-genre -> top-level genre relations (as record shops and Wikipedia's genre boxes file them), by
# spelling key; two levels only, so a parent is always a top-level genre. Ambiguous ones (Funk, Disco, Dance,
# Industrial, Darkwave, MPB) keep no parent rather than a guessed one.
PARENT_GENRES = {
    **dict.fromkeys(["alternativerock", "classicrock", "indierock", "hardrock", "progressiverock", "poprock",
                     "britpop", "postrock", "grunge", "rockandroll", "shoegaze", "bluesrock", "psychedelicrock",
                     "softrock", "jrock", "christianrock", "garagerock", "gothicrock", "powerpop", "stonerrock"],
                    "rock"),
    **dict.fromkeys(["heavymetal", "metalcore", "thrashmetal", "deathmetal", "progressivemetal", "numetal",
                     "melodicdeathmetal", "powermetal", "deathcore", "blackmetal", "gothicmetal", "symphonicmetal",
                     "alternativemetal", "industrialmetal", "grindcore", "doommetal", "folkmetal"], "metal"),
    **dict.fromkeys(["punkrock", "hardcore", "postpunk", "posthardcore", "poppunk", "emo", "screamo"], "punk"),
    **dict.fromkeys(["synthpop", "indiepop", "electropop", "dreampop", "jpop", "kpop", "dancepop"], "pop"),
    **dict.fromkeys(["electronica", "ambient", "triphop", "idm", "electro", "downtempo", "trance", "house", "techno",
                     "minimal", "ebm", "chillout", "futurepop", "darkelectro", "drumandbass", "dubstep"],
                    "electronic"),
    **dict.fromkeys(["rap", "gangstarap", "undergroundhiphop"], "hiphop"),
    **dict.fromkeys(["soul", "neosoul"], "randb"),
    **dict.fromkeys(["smoothjazz", "acidjazz", "bebop", "jazzfusion", "swing"], "jazz"),
    **dict.fromkeys(["singersongwriter", "indiefolk", "folkrock"], "folk"),
    **dict.fromkeys(["altcountry", "bluegrass"], "country"),
    **dict.fromkeys(["opera", "baroque", "neoclassical"], "classical"),
    **dict.fromkeys(["reggaeton", "salsa", "bossanova"], "latin"),
    **dict.fromkeys(["dub", "dancehall", "ska"], "reggae"),
}


def normalise_tag(text: str) -> str:
    """Lower-case text with single spaces, and the alias, if any, it stands for."""
    tag = " ".join(str(text).lower().split())
    return ALIASES.get(tag, tag)


def spelling_key(tag: str) -> str:
    """Tags that differ only in spacing, hyphens or the way 'and' is written share a key: hip hop = hip-hop."""
    spaced = re.sub(r"\s*(?:&|'n'|'n\b|\bn\b|\band\b)\s*", " and ", tag)
    return re.sub(r"[\W_]+", "", spaced) or tag


def is_genre_tag(tag: str) -> bool:
    """False for tags on the denylist or matching a non-genre pattern (see NON_GENRE_TAGS/PATTERNS)."""
    return bool(tag) and tag not in NON_GENRE_TAGS and not NON_GENRE_PATTERNS.search(tag)


def genre_display(tag: str) -> str:
    """Title case by words and hyphen parts ("hip-hop" -> "Hip-Hop"); acronyms and the like from DISPLAY."""
    key = spelling_key(tag)
    if key in DISPLAY:
        return DISPLAY[key]
    return re.sub(r"(^|[\s\-/])([a-z])", lambda m: m.group(1) + m.group(2).upper(), tag)


def _read_raw(raw: Path) -> dict[str, pd.DataFrame]:
    """The four raw files as text tables; a missing folder, file or column is a DataValidationError."""
    if not raw.is_dir():
        raise DataValidationError([Problem(str(raw), "Last.fm raw folder not found (unzip hetrec2011-lastfm-2k.zip)")])
    problems: list[Problem] = []
    tables: dict[str, pd.DataFrame] = {}
    for name, (encoding, columns) in RAW_FILES.items():
        path = raw / name
        if not path.is_file():
            problems.append(Problem(name, f"required Last.fm file is missing from {raw}"))
            continue
        # QUOTE_NONE: names such as "Weird Al" Yankovic start with a quote that is part of the name.
        df = pd.read_csv(path, sep="\t", dtype=str, keep_default_na=False, encoding=encoding,
                         quoting=csv.QUOTE_NONE)
        df.columns = [c.strip() for c in df.columns]
        missing = [c for c in columns if c not in df.columns]
        problems.extend(Problem(name, f"missing column; has {list(df.columns)}", column=c) for c in missing)
        if not missing:
            tables[name] = df[list(columns)].apply(lambda s: s.str.strip())
    if not problems:
        _check_integers(tables, problems)
    if problems:
        raise DataValidationError(problems, path=raw)
    return tables


def _check_integers(tables: dict[str, pd.DataFrame], problems: list[Problem]) -> None:
    """IDs and listening counts must be positive integers (plays of 0 would be rejected by the loader)."""
    for name, df in tables.items():
        for column in df.columns:
            if column in ("name", "tagValue"):
                continue
            bad = ~df[column].str.fullmatch(r"0*[1-9][0-9]*")
            problems.extend(Problem(name, "expected a positive integer", row=int(row) + 1, column=column,
                                    value=df[column].iat[row]) for row in bad[bad].index[:10])


def _genre_tables(tagged: pd.DataFrame, tags: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(genres, artist_genres) from tag assignments on catalogue artists, by the rule in the module docstring."""
    tags = tags.assign(tag=tags["tagValue"].map(normalise_tag))
    tags = tags[tags["tag"].map(is_genre_tag)].assign(key=lambda d: d["tag"].map(spelling_key))
    used = tagged.merge(tags[["tagID", "tag", "key"]], on="tagID")
    # The spelling used most names the merged genre; one user's two spellings for one artist count once.
    spelling = (used.groupby(["key", "tag"]).size().rename("n").reset_index()
                .sort_values(["key", "n", "tag"], ascending=[True, False, True]).drop_duplicates("key"))
    used = used.drop_duplicates(["userID", "artistID", "key"])
    popularity = used.groupby("key").size().rename("popularity").reset_index()
    top = popularity.merge(spelling[["key", "tag"]], on="key")
    top = top.sort_values(["popularity", "tag"], ascending=[False, True]).head(TOP_GENRES)
    top = top.assign(genre=top["tag"].map(genre_display))
    pairs = used[used["key"].isin(top["key"])].groupby(["artistID", "key"]).size().rename("weight").reset_index()
    pairs = pairs[pairs["weight"] >= MIN_SUPPORT].merge(top[["key", "genre"]], on="key")
    artist_genres = (pairs.rename(columns={"artistID": "artist_id"})
                     .sort_values(["artist_id", "weight", "genre"], ascending=[True, False, True], key=_natural)
                     [["artist_id", "genre", "weight"]])
    return _with_parents(top).reset_index(drop=True), artist_genres.reset_index(drop=True)


def _with_parents(top: pd.DataFrame) -> pd.DataFrame:
    """genre, parent, popularity: the parent from PARENT_GENRES when that genre is kept too, else ''."""
    names = dict(zip(top["key"], top["genre"], strict=True))
    parents = top["key"].map(lambda key: names.get(PARENT_GENRES.get(key, ""), ""))
    return top.assign(parent=parents)[["genre", "parent", "popularity"]]


def _natural(column: pd.Series) -> pd.Series:
    """Sort numeric ID text by number ('9' before '10'); other columns as they are."""
    return column.astype("int64") if column.name == "artist_id" else column


def import_lastfm(raw: str | Path, out: str | Path, fmt: str = "parquet") -> dict[str, object]:
    """Write the dataset folder `out` from the unzipped HetRec folder `raw`; return counts and the genre names.

    Raises:
        DataValidationError: the raw folder, a raw file or a column is missing, or an ID or count is not a
            positive integer.
        ConfigError: unknown format, or `out` is a folder holding other files.
    """
    if fmt not in ("parquet", "csv"):
        raise ConfigError(f"unknown format {fmt!r}; use 'parquet' or 'csv'")
    raw, out = Path(raw), Path(out)
    t = _read_raw(raw)
    artists = t["artists.dat"].rename(columns={"id": "artist_id"})
    listens = t["user_artists.dat"]
    # Listened artists absent from artists.dat stay in the catalogue, named by their ID (none in the 2011 data).
    unnamed = sorted(set(listens["artistID"]) - set(artists["artist_id"]), key=int)
    artists = pd.concat([artists, pd.DataFrame({"artist_id": unnamed, "name": unnamed})], ignore_index=True)
    tagged = t["user_taggedartists.dat"]
    on_catalogue = tagged["artistID"].isin(artists["artist_id"])  # tags of artists nobody listened to: dropped
    genres, artist_genres = _genre_tables(tagged[on_catalogue], t["tags.dat"])
    tables = {
        "interactions": pd.DataFrame({"user_id": listens["userID"], "track_id": listens["artistID"],
                                      "plays": listens["weight"].astype("int64")}),
        "tracks": pd.DataFrame({"track_id": artists["artist_id"], "artist_id": artists["artist_id"],
                                "title": artists["name"]}),
        "artists": artists[["artist_id", "name"]],
        "artist_genres": artist_genres,
        "genres": genres,
        "users": pd.DataFrame({"user_id": sorted(set(listens["userID"]), key=int)}),
    }
    with staged_folder(out) as folder:
        for stem, df in tables.items():
            write_table(df, folder, stem, fmt)
    return {
        "users": len(tables["users"]),
        "items": len(tables["tracks"]),
        "interactions": len(tables["interactions"]),
        "plays": int(tables["interactions"]["plays"].sum()),
        "genres": len(genres),
        "artist_genres": len(artist_genres),
        "artists_with_genre": int(artist_genres["artist_id"].nunique()),
        "tag_assignments": len(tagged),
        "tag_assignments_unknown_artist": int((~on_catalogue).sum()),
        "unnamed_artists": len(unnamed),
        "genre_names": genres["genre"].tolist(),
    }
