#pragma once
// Member hospitals as the referral module needs them: city, grade and the chain of
// Organizations from a department up to its hospital. Reads the Organization resources
// directly (the registry module of issue 6 is being written; this file is small on purpose
// and should be replaced by the registry's public header once it lands).
//
// A member hospital is the first Organization, walking partOf upwards, that carries the grade
// extension (kGradeExtension); its city is address[0].city.

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.h"
#include "search/search.h"
#include "store/store.h"

namespace medalliance::referral {

struct Member {
  std::string id;  // Organization id of the member hospital
  std::string name;
  std::string city;
  // 3 三级, 2 二级, 1 一级, 0 community health centre (社区卫生服务中心) / primary care;
  // -1 unknown.
  int grade = -1;
  bool community = false;
  // Organization ids from the referenced one (a department) up to the member hospital.
  std::vector<std::string> chain;

  bool Contains(std::string_view organization_id) const;
};

// The grade level of the extension's text ("三级甲等" → 3, "二级" → 2, "社区卫生服务中心" → 0;
// also "grade-3", "3", "level-3" style codes); -1 when unknown.
int GradeLevel(std::string_view text);

// The member behind a reference to an Organization, a PractitionerRole (its organization) or
// a Practitioner (the organization of its first PractitionerRole). nullopt when the
// reference cannot be resolved. Errors: the store's.
core::Result<std::optional<Member>> ResolveMember(store::ReadTx& tx,
                                                  const search::Searcher& searcher,
                                                  std::string_view reference);

// Every member hospital (Organizations carrying the grade extension), ordered by id.
core::Result<std::vector<Member>> ListMembers(store::ReadTx& tx, const search::Searcher& searcher);

}  // namespace medalliance::referral
