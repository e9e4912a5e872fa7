"""The HetRec 2011 Last.fm importer: the genre rule on a tiny hand-made copy, the counts on the real files."""

from __future__ import annotations

import os
from pathlib import Path

import pandas as pd
import pytest

from recsys.cli.main import main
from recsys.data import lastfm, load_dataset
from recsys.data.lastfm import genre_display, import_lastfm, is_genre_tag, normalise_tag, spelling_key
from recsys.errors import ConfigError, DataValidationError

REPO = Path(__file__).resolve().parents[2]
REAL_RAW = Path(os.environ.get("RECSYS_LASTFM_RAW") or REPO.parent / "shared" / "data" / "hetrec2011-lastfm-2k")


def write_raw(folder: Path, *, artists: str | None = None, tags: bytes | None = None, listens: str | None = None,
              tagged: str | None = None) -> Path:
    """A tiny raw folder in the original encodings: tags.dat ISO-8859-1 with CRLF, the rest UTF-8."""
    folder.mkdir(parents=True, exist_ok=True)
    artists = artists or ("id\tname\turl\tpictureURL\n1\tMiles Davis\thttp://x\thttp://y\n"
                          '2\t"Weird Al" Yankovic\thttp://x\t\n3\tBjörk\thttp://x\thttp://y\n4\tNobody\t\t\n')
    tags = tags or "\r\n".join(["tagID\ttagValue", "1\tjazz", "2\thip hop", "3\tHip-Hop", "4\tseen live",
                                "5\t80s", "6\tbritish", "7\tfemale vocalists", "8\tRock ", "9\tmúsica",
                                "10\tfavorites", "11\tpop", ""]).encode("latin-1")
    listens = listens or "userID\tartistID\tweight\r\n2\t1\t100\r\n2\t2\t5\r\n3\t1\t7\r\n3\t3\t1\r\n4\t4\t12\r\n"
    # (user, artist, tag): jazz on Miles by two users, rock by one; both hip-hop spellings on Weird Al, user 2
    # using both; pop on Björk once; tags on artist 99, which is not in artists.dat, are dropped.
    tagged = tagged or "userID\tartistID\ttagID\tday\tmonth\tyear\n" + "".join(
        f"{u}\t{a}\t{t}\t1\t4\t2009\n" for u, a, t in [
            (2, 1, 1), (3, 1, 1), (2, 1, 4), (3, 1, 4), (2, 1, 5), (3, 1, 5), (3, 1, 8),
            (2, 2, 2), (2, 2, 3), (3, 2, 3), (4, 2, 3),
            (2, 3, 11), (2, 3, 8), (3, 3, 8), (4, 3, 8), (2, 3, 6), (3, 3, 6), (2, 3, 7), (3, 3, 7), (2, 3, 9),
            (4, 3, 9), (2, 3, 10), (3, 3, 10),
            (2, 99, 1), (3, 99, 1), (4, 99, 8),
        ])
    (folder / "artists.dat").write_text(artists, encoding="utf-8")
    (folder / "tags.dat").write_bytes(tags)
    (folder / "user_artists.dat").write_text(listens, encoding="utf-8")
    (folder / "user_taggedartists.dat").write_text(tagged, encoding="utf-8")
    return folder


# ---------------------------------------------------------------------------------------------- the genre rule


@pytest.mark.parametrize("tag", [
    "seen live", "favorites", "favourite", "favorite songs", "love", "love at first listen", "awesome", "beautiful",
    "80s", "1990s", "00s", "2008", "british", "american", "german", "japanese", "swedish", "uk",
    "female vocalists", "male vocalists", "female vocalist", "my favorite", "albums i own", "mellow", "<3",
    "instrumental", "cover", "",
])
def test_non_genre_tags_are_dropped(tag: str) -> None:
    assert not is_genre_tag(normalise_tag(tag))


@pytest.mark.parametrize("tag", [
    "rock", "pop", "alternative", "electronic", "indie", "metal", "hip-hop", "jazz", "k-pop", "britpop",
    "post-rock", "death metal", "singer-songwriter", "r&b", "trip-hop", "new wave",
])
def test_genre_tags_are_kept(tag: str) -> None:
    assert is_genre_tag(normalise_tag(tag))


def test_tag_text_is_normalised_and_spellings_merge() -> None:
    assert normalise_tag("  Hip   Hop ") == "hip hop"
    assert normalise_tag("RnB") == "r&b"
    assert len({spelling_key(normalise_tag(t)) for t in ["hip hop", "Hip-Hop", "hiphop", "hip_hop"]}) == 1
    assert spelling_key("rock n roll") == spelling_key("rock and roll") == spelling_key("rock 'n' roll")
    assert spelling_key("drum & bass") == spelling_key("drum n bass") == spelling_key("drum and bass")
    assert spelling_key("post-rock") != spelling_key("post-punk")
    assert spelling_key("música") == "música" and spelling_key("ロック") == "ロック"


@pytest.mark.parametrize(("tag", "shown"), [
    ("rock", "Rock"), ("hip-hop", "Hip-Hop"), ("alternative rock", "Alternative Rock"), ("r&b", "R&B"),
    ("idm", "IDM"), ("rock n roll", "Rock 'n' Roll"), ("singer-songwriter", "Singer-Songwriter"),
    ("j-pop", "J-Pop"), ("lo-fi", "Lo-Fi"),
])
def test_genre_names_are_title_case(tag: str, shown: str) -> None:
    assert genre_display(tag) == shown


# ---------------------------------------------------------------------------------------------- a tiny import


def test_import_of_a_tiny_copy(tmp_path: Path) -> None:
    summary = import_lastfm(write_raw(tmp_path / "raw"), tmp_path / "out")
    assert summary["genre_names"] == ["Rock", "Hip-Hop", "Jazz", "Música", "Pop"]
    assert {k: summary[k] for k in ("users", "items", "interactions", "plays", "tag_assignments",
                                    "tag_assignments_unknown_artist", "unnamed_artists")} == {
        "users": 3, "items": 4, "interactions": 5, "plays": 125, "tag_assignments": 26,
        "tag_assignments_unknown_artist": 3, "unnamed_artists": 0}
    ds = load_dataset(tmp_path / "out")
    assert list(ds.tracks["track_id"]) == list(ds.tracks["artist_id"]) == ["1", "2", "3", "4"]
    assert list(ds.tracks["title"]) == ["Miles Davis", '"Weird Al" Yankovic', "Björk", "Nobody"]
    assert list(ds.artists["name"]) == list(ds.tracks["title"])
    assert list(ds.users["user_id"]) == ["2", "3", "4"]
    assert not ds.has_timestamps and not ds.has_split
    genres = dict(zip(ds.genres["genre"], ds.genres["popularity"], strict=True))
    # Hip-Hop: 4 assignments in two spellings, but user 2 used both on one artist, so 3.
    assert genres == {"Rock": 4, "Hip-Hop": 3, "Jazz": 2, "Música": 2, "Pop": 1}
    links = {(r.artist_id, r.genre): r.weight for r in ds.artist_genres.itertuples()}
    # Only pairs with >= 2 assignments are links: not Miles's one rock tag, nor Björk's one pop tag.
    assert links == {("1", "Jazz"): 2, ("2", "Hip-Hop"): 3, ("3", "Rock"): 3, ("3", "Música"): 2}
    assert set(ds.song_genres()["track_id"]) == {"1", "2", "3"}


def test_sub_genres_get_a_parent_only_when_it_is_kept(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    tags = "\r\n".join(["tagID\ttagValue", "1\trock", "2\tIndie Rock", "3\trap", "4\tjazz", ""]).encode("latin-1")
    tagged = "userID\tartistID\ttagID\n" + "".join(f"{u}\t{a}\t{t}\n" for u, a, t in [
        (2, 1, 1), (3, 1, 1), (2, 2, 2), (3, 2, 2), (2, 3, 3), (3, 3, 3), (2, 1, 4), (3, 1, 4)])
    monkeypatch.setattr(lastfm, "PARENT_GENRES", {**lastfm.PARENT_GENRES, "jazz": "blues"})  # Blues is not kept
    import_lastfm(write_raw(tmp_path / "raw", tags=tags, tagged=tagged), tmp_path / "out")
    genres = load_dataset(tmp_path / "out").genres
    assert dict(zip(genres["genre"], genres["parent"], strict=True)) == {
        "Rock": "", "Indie Rock": "Rock", "Rap": "", "Jazz": ""}  # Hip-Hop, Rap's parent, is not a genre here


def test_parent_genres_are_two_levels_of_real_names() -> None:
    children, parents = set(lastfm.PARENT_GENRES), set(lastfm.PARENT_GENRES.values())
    assert not children & parents  # a parent is always a top-level genre
    assert all(spelling_key(key) == key for key in children | parents)  # keys as _genre_tables compares them


def test_top_n_keeps_the_most_used_genres(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(lastfm, "TOP_GENRES", 2)
    summary = import_lastfm(write_raw(tmp_path / "raw"), tmp_path / "out")
    assert summary["genre_names"] == ["Rock", "Hip-Hop"]
    assert set(load_dataset(tmp_path / "out").artist_genres["genre"]) == {"Rock", "Hip-Hop"}


def test_csv_and_parquet_imports_are_the_same_dataset(tmp_path: Path) -> None:
    raw = write_raw(tmp_path / "raw")
    import_lastfm(raw, tmp_path / "pq")
    import_lastfm(raw, tmp_path / "csv", fmt="csv")
    assert sorted(p.name for p in (tmp_path / "csv").iterdir()) == [
        "artist_genres.csv", "artists.csv", "genres.csv", "interactions.csv", "tracks.csv", "users.csv"]
    from_pq, from_csv = load_dataset(tmp_path / "pq"), load_dataset(tmp_path / "csv")
    assert from_pq == from_csv and from_pq.fingerprint == from_csv.fingerprint


def test_listened_artists_missing_from_artists_dat_stay_named_by_their_id(tmp_path: Path) -> None:
    listens = "userID\tartistID\tweight\n2\t1\t3\n2\t77\t4\n"
    summary = import_lastfm(write_raw(tmp_path / "raw", listens=listens), tmp_path / "out")
    assert summary["unnamed_artists"] == 1 and summary["interactions"] == 2 and summary["items"] == 5
    ds = load_dataset(tmp_path / "out")
    assert ds.tracks.set_index("track_id").loc["77", "title"] == "77"


def test_an_earlier_import_is_replaced_and_other_folders_are_not(tmp_path: Path) -> None:
    raw = write_raw(tmp_path / "raw")
    import_lastfm(raw, tmp_path / "out", fmt="csv")
    import_lastfm(raw, tmp_path / "out")  # parquet now: the CSV files must go, or the loader would see both
    assert sorted(p.suffix for p in (tmp_path / "out").iterdir()) == [".parquet"] * 6
    (tmp_path / "keep").mkdir()
    (tmp_path / "keep" / "notes.md").write_text("mine")
    with pytest.raises(ConfigError, match="not dataset tables"):
        import_lastfm(raw, tmp_path / "keep")
    assert [p.name for p in (tmp_path / "keep").iterdir()] == ["notes.md"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["keep", "out", "raw"]  # no temporary folders left


def test_a_failed_import_leaves_no_output(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(*args: object) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(lastfm, "write_table", broken)
    with pytest.raises(OSError, match="disk full"):
        import_lastfm(write_raw(tmp_path / "raw"), tmp_path / "out")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["raw"]


def test_missing_raw_folder_or_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(DataValidationError, match="raw folder not found") as info:
        import_lastfm(tmp_path / "nowhere", tmp_path / "out")
    assert info.value.problems[0].file == str(tmp_path / "nowhere")
    raw = write_raw(tmp_path / "raw")
    (raw / "tags.dat").unlink()
    (raw / "user_artists.dat").unlink()
    with pytest.raises(DataValidationError) as info:
        import_lastfm(raw, tmp_path / "out")
    assert [p.file for p in info.value.problems] == ["tags.dat", "user_artists.dat"]
    assert not (tmp_path / "out").exists()


def test_bad_raw_values_are_located(tmp_path: Path) -> None:
    listens = "userID\tartistID\tweight\n2\t1\t3\n2\t2\t0\nx\t3\t1\n"
    with pytest.raises(DataValidationError) as info:
        import_lastfm(write_raw(tmp_path / "raw", listens=listens), tmp_path / "out")
    assert {(p.file, p.row, p.column, p.value) for p in info.value.problems} == {
        ("user_artists.dat", 2, "weight", "0"), ("user_artists.dat", 3, "userID", "x")}
    artists = "id\tname\n1\tA\n"
    with pytest.raises(DataValidationError, match="missing column") as info:
        import_lastfm(write_raw(tmp_path / "raw2", artists=artists.replace("name", "title")), tmp_path / "out")
    assert [(p.file, p.column) for p in info.value.problems] == [("artists.dat", "name")]


def test_unknown_format_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="unknown format"):
        import_lastfm(write_raw(tmp_path / "raw"), tmp_path / "out", fmt="json")


def test_cli(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    raw = write_raw(tmp_path / "raw")
    assert main(["import-lastfm", "--raw", str(raw), "--out", str(tmp_path / "out"), "--format", "csv"]) == 0
    out = capsys.readouterr().out
    assert "users 3, items (artists) 4, interactions 5" in out
    assert "genres kept: Rock, Hip-Hop, Jazz, Música, Pop" in out and " s\n" in out
    assert main(["import-lastfm", "--raw", str(tmp_path / "none"), "--out", str(tmp_path / "x")]) == 1
    assert "raw folder not found" in capsys.readouterr().err


# ---------------------------------------------------------------------------------------------- the real data

@pytest.fixture(scope="module")
def real_import(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict, Path]:
    if not (REAL_RAW / "user_artists.dat").is_file():
        pytest.skip(f"HetRec 2011 Last.fm files not at {REAL_RAW} (set RECSYS_LASTFM_RAW)")
    out = tmp_path_factory.mktemp("lastfm") / "data"
    return import_lastfm(REAL_RAW, out), out


def test_real_import_counts(real_import: tuple[dict, Path]) -> None:
    summary, out = real_import
    assert (summary["users"], summary["items"], summary["interactions"]) == (1892, 17632, 92834)
    assert summary["unnamed_artists"] == 0  # every listened artist is in artists.dat
    assert summary["tag_assignments"] == 186479 and summary["tag_assignments_unknown_artist"] == 1538
    ds = load_dataset(out)
    counts = ds.summary()
    assert (counts["users"], counts["tracks"], counts["artists"], counts["interactions"]) == (1892, 17632, 17632, 92834)
    assert counts["genres"] == lastfm.TOP_GENRES and ds.has_genres
    assert (ds.artist_genres["weight"] >= lastfm.MIN_SUPPORT).all()


def test_real_import_genres(real_import: tuple[dict, Path]) -> None:
    names = real_import[0]["genre_names"]
    assert names[:5] == ["Rock", "Pop", "Alternative", "Electronic", "Indie"]
    assert {"Metal", "Hip-Hop", "Jazz", "R&B", "Classical", "Reggae"} <= set(names)
    assert not {"Seen Live", "80s", "British", "Female Vocalists", "Favorites", "Beautiful", "Hip Hop"} & set(names)
    genres = pd.read_parquet(real_import[1] / "genres.parquet")
    assert genres["popularity"].is_monotonic_decreasing
    parents = dict(zip(genres["genre"], genres["parent"], strict=True))
    assert (parents["Indie Rock"], parents["Heavy Metal"], parents["Soul"], parents["Rock"]) == ("Rock", "Metal",
                                                                                                  "R&B", "")
    assert {p for p in parents.values() if p} <= {g for g, p in parents.items() if not p}  # parents are top-level


def test_real_import_csv_matches_parquet(real_import: tuple[dict, Path], tmp_path: Path) -> None:
    import_lastfm(REAL_RAW, tmp_path / "csv", fmt="csv")
    assert load_dataset(tmp_path / "csv").fingerprint == load_dataset(real_import[1]).fingerprint
