# ma_embed_recognition_catalogue(OUT_VAR ROOT): writes a .cc embedding
# data/recognition/catalogue.json (as a raw string, from src/recognition/internal/
# catalogue_json.cc.in) into the current binary dir and returns its path. Used by
# src/recognition and by the fuzz build, so both embed the same catalogue.
function(ma_embed_recognition_catalogue out_var root)
  set(catalogue ${root}/data/recognition/catalogue.json)
  set_property(DIRECTORY APPEND PROPERTY CMAKE_CONFIGURE_DEPENDS ${catalogue})
  file(READ ${catalogue} MA_RECOGNITION_CATALOGUE)
  set(out ${CMAKE_CURRENT_BINARY_DIR}/generated/recognition_catalogue_json.cc)
  configure_file(${root}/src/recognition/internal/catalogue_json.cc.in ${out} @ONLY)
  set(${out_var} ${out} PARENT_SCOPE)
endfunction()
