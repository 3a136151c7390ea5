"""The cycle-level simulator of the generated dataflow design. Later milestone (issue 4); empty today."""
