# ma_embed_mpi_tables(OUT_VAR ROOT): writes one .cc per data/mpi table (the text embedded as a
# raw string, from src/mpi/internal/table.cc.in) into the current binary dir and returns their
# paths. Used by src/mpi and by the fuzz build, so both embed the same tables.
function(ma_embed_mpi_tables out_var root)
  set(tables
    "HanziPinyin:hanzi-pinyin.txt"
    "HanziT2s:hanzi-t2s.txt"
    "Gb2260Codes:gb2260-codes.txt"
    "MatchWeights:match-weights.txt")
  set(generated)
  foreach(table ${tables})
    string(REPLACE ":" ";" parts "${table}")
    list(GET parts 0 MA_MPI_TABLE_NAME)
    list(GET parts 1 file)
    set(path ${root}/data/mpi/${file})
    set_property(DIRECTORY APPEND PROPERTY CMAKE_CONFIGURE_DEPENDS ${path})
    file(READ ${path} MA_MPI_TABLE_TEXT)
    set(out ${CMAKE_CURRENT_BINARY_DIR}/generated/${MA_MPI_TABLE_NAME}.cc)
    configure_file(${root}/src/mpi/internal/table.cc.in ${out} @ONLY)
    list(APPEND generated ${out})
  endforeach()
  set(${out_var} ${generated} PARENT_SCOPE)
endfunction()
